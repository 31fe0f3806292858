import fs from 'node:fs'
import path from 'node:path'
import { describe, expect, it } from 'vitest'
import { settings } from '../runtime/config.ts'
import { repoRoot } from './processes.ts'

const readme = fs.readFileSync(path.join(repoRoot, 'README.md'), 'utf8')

describe('the README', () => {
  it.each(Object.values(settings).map((spec) => [spec.env, spec.defaultText] as const))(
    'documents %s with its default %s',
    (env, defaultText) => {
      const shown = defaultText.startsWith('(') ? defaultText : `\`${defaultText}\``
      const escape = (text: string) => text.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')
      expect(readme).toMatch(new RegExp(`^\\|\\s*\`${env}\`\\s*\\|\\s*${escape(shown)}\\s*\\|`, 'm'))
    },
  )

  it('documents no variable the code does not read', () => {
    const known = new Set(Object.values(settings).map((spec) => spec.env))
    const documented = [...readme.matchAll(/^\|\s*`([A-Z][A-Z0-9_]+)`\s*\|/gm)].map((match) => match[1])
    expect(documented.filter((name) => !known.has(name ?? ''))).toEqual([])
  })

  it('gives the two set-up commands', () => {
    expect(readme).toContain('npm install && npm start')
    expect(readme).toContain('npm install && npm test')
  })
})
