import crypto from 'node:crypto'
import fs from 'node:fs'
import path from 'node:path'

/**
 * A secret of a local installation: read from `<dataDir>/<name>`, or made once (`prefix` + random hex of `bytes`
 * bytes) and written there readable by its owner only, so it stays the same across restarts. Production configures
 * its secrets instead.
 */
export function keptSecret(dataDir: string, name: string, bytes: number, prefix = ''): string {
  const file = path.join(dataDir, name)
  try {
    return fs.readFileSync(file, 'utf8').trim()
  } catch {
    fs.mkdirSync(dataDir, { recursive: true })
    const secret = `${prefix}${crypto.randomBytes(bytes).toString('hex')}`
    fs.writeFileSync(file, `${secret}\n`, { mode: 0o600, flag: 'wx' })
    return secret
  }
}
