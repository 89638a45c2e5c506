/** Commander argument parser for a repeatable option: each use adds its value to the list. */
export function repeatable(value: string, previous: readonly string[] = []): string[] {
  return [...previous, value];
}
