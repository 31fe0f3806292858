/** The metrics API as the dashboard calls it: a reader key from the address or the sign-in form, JSON or CSV. */

const keyStorage = 'omnistitch.apiKey'

/** An API answer that was not 2xx, with the API's own error code and message when it sent one. */
export class ApiError extends Error {
  constructor(
    readonly status: number,
    readonly code: string,
    message: string,
  ) {
    super(message)
  }
}

/**
 * Takes a key handed over in the address (`#key=…`, as `npm start` prints it; the fragment never reaches a server or
 * its logs) into local storage and out of the address.
 */
export function adoptKeyFromAddress(): void {
  const match = /^#key=([^&]+)/.exec(window.location.hash)
  if (match?.[1] === undefined) return
  localStorage.setItem(keyStorage, decodeURIComponent(match[1]))
  history.replaceState(null, '', `${window.location.pathname}#/overview`)
}

/**
 * Asks the server for the reader key it hands to browsers on its own machine (`npm start` on a loopback address; see
 * dashboards/server.ts). Returns whether a key other than `stale` was adopted; a server that hands out none answers
 * 404 and the sign-in form stays.
 */
export async function adoptLocalSession(stale: string | null = null): Promise<boolean> {
  try {
    const response = await fetch('/dashboard/session', { cache: 'no-store' })
    if (!response.ok) return false
    const { key } = (await response.json()) as { key?: unknown }
    if (typeof key !== 'string' || key === '' || key === stale) return false
    localStorage.setItem(keyStorage, key)
    return true
  } catch {
    return false
  }
}

export function apiKey(): string | null {
  return localStorage.getItem(keyStorage)
}

export function setApiKey(key: string): void {
  localStorage.setItem(keyStorage, key)
}

export function forgetApiKey(): void {
  localStorage.removeItem(keyStorage)
}

export type Params = Record<string, string | number | undefined>

function address(path: string, params: Params): string {
  const query = new URLSearchParams()
  for (const [name, value] of Object.entries(params))
    if (value !== undefined && value !== '') query.set(name, `${value}`)
  const text = query.toString()
  return text === '' ? path : `${path}?${text}`
}

async function call(path: string, params: Params): Promise<Response> {
  const key = apiKey()
  const response = await fetch(address(path, params), { headers: { authorization: `Bearer ${key ?? ''}` } })
  if (response.ok) return response
  let code = `HTTP_${response.status}`
  let message = response.statusText
  try {
    const body = (await response.json()) as { error?: { code?: string; message?: string } }
    code = body.error?.code ?? code
    message = body.error?.message ?? message
  } catch {
    // Not JSON: keep the status text.
  }
  // Says which key was refused: calls made with it may come back after it was replaced, and must not undo that.
  if (response.status === 401) document.dispatchEvent(new CustomEvent('omnistitch:unauthorized', { detail: key }))
  throw new ApiError(response.status, code, message)
}

/** Every call the dashboard made, newest last: what the browser tests look at. */
export const callLog: string[] = []

export async function getJson<T>(path: string, params: Params = {}): Promise<T> {
  callLog.push(address(path, params))
  return (await (await call(path, params)).json()) as T
}

/** Saves the rows of an endpoint as CSV, exactly as the API gives them with format=csv. */
export async function downloadCsv(path: string, params: Params, filename: string): Promise<void> {
  saveFile(await (await call(path, { ...params, format: 'csv' })).blob(), filename)
}

/** Hands a file to the browser's downloads. */
export function saveFile(blob: Blob, filename: string): void {
  const link = document.createElement('a')
  link.href = URL.createObjectURL(blob)
  link.download = filename
  document.body.append(link)
  link.click()
  link.remove()
  setTimeout(() => URL.revokeObjectURL(link.href), 10_000)
}
