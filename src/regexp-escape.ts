/** `text` as a regex source that matches exactly it (no flag needed; safe inside and outside a class). */
export function escapeRegExp(text: string): string {
  return text.replace(/[\\^$.*+?()[\]{}|/-]/g, '\\$&');
}
