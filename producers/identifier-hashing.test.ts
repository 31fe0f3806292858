import fs from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import { describe, expect, it } from 'vitest'
import { createIdentifierHasher, normaliseEmail, normalisePhone, resolveHashSecret } from './identifier-hashing.ts'

describe('identifier hashing at the capture edge', () => {
  it.each(['+7 (916) 123-45-67', '8 916 123 45 67', '9161234567', '7-916-123-45-67'])(
    'normalises the Russian phone %s to 79161234567',
    (raw) => expect(normalisePhone(raw)).toBe('79161234567'),
  )

  it('refuses what is not a phone number or an e-mail', () => {
    expect(normalisePhone('0')).toBeNull()
    expect(normalisePhone('null')).toBeNull()
    expect(normaliseEmail('undefined')).toBeNull()
    expect(normaliseEmail('  Anna.Petrova@Example.RU ')).toBe('anna.petrova@example.ru')
  })

  it('hashes the same person alike however they were written, and never returns the raw value', () => {
    const hasher = createIdentifierHasher('a-secret-of-some-length')
    const hash = hasher.phone('+7 (916) 123-45-67')
    expect(hash).toMatch(/^[0-9a-f]{64}$/)
    expect(hasher.phone('89161234567')).toBe(hash)
    expect(hasher.email('Anna@Example.ru')).toBe(hasher.email(' anna@example.RU'))
    expect(hasher.email('anna@example.ru')).not.toContain('anna')
  })

  it('gives different hashes under different secrets', () => {
    expect(createIdentifierHasher('secret-one-0123456').email('a@b.ru')).not.toBe(
      createIdentifierHasher('secret-two-0123456').email('a@b.ru'),
    )
  })

  it('keeps a generated secret in the data directory across restarts', () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'omnistitch-secret-'))
    const first = resolveHashSecret(undefined, dir)
    expect(first).toMatch(/^[0-9a-f]{64}$/)
    expect(resolveHashSecret(undefined, dir)).toBe(first)
    expect(resolveHashSecret('configured-secret-value', dir)).toBe('configured-secret-value')
    expect(fs.statSync(path.join(dir, 'hash-secret')).mode & 0o777).toBe(0o600)
  })
})
