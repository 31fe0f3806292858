/** `2026-11-22 14:16:54.123`: the DateTime64(3) text form, read alike by every ClickHouse input setting (UTC). */
export function formatDateTime64(epochMillis: number): string {
  return new Date(epochMillis).toISOString().replace('T', ' ').replace('Z', '')
}
