#!/usr/bin/env node
// Thin launcher: the CLI is bundled into dist/bundle/ (scripts/bundle-cli.mjs; built by `npm ci`, and by `npm pack` for the tarball, through the prepare script).
import '../dist/bundle/main.js';
