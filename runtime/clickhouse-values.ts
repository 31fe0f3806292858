/** `2026-11-22 14:16:54.123`: the DateTime64(3) text form, read alike by every ClickHouse input setting (UTC). */
export function formatDateTime64(epochMillis: number): string {
  return new Date(epochMillis).toISOString().replace('T', ' ').replace('Z', '')
}

/** ISO 8601 (`2026-11-22T14:16:54.123Z`) of a DateTime time as ClickHouse sends it in JSON (`2026-11-22 14:16:54.123`, UTC). */
export function isoFromDateTime(text: string): string {
  return new Date(`${text.replace(' ', 'T')}Z`).toISOString()
}
