#!/usr/bin/env node
// Thin launcher: the compiled CLI lives in dist/ (built by `npm ci`, and by `npm pack` for the tarball, through the prepare script).
import '../dist/main.js';
