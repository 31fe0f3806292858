import { describe, expect, it } from 'vitest'
import { errorCatalogue, hasErrorCode, OmnistitchError } from './errors.ts'

describe('the error catalogue', () => {
  it('uses OMNI_ERR_<AREA>_<CONDITION> codes with an HTTP status and a summary', () => {
    for (const [code, entry] of Object.entries(errorCatalogue)) {
      expect(code).toMatch(/^OMNI_ERR_[A-Z]+(_[A-Z]+)+$|^OMNI_ERR_INTERNAL$/)
      expect(entry.status).toBeGreaterThanOrEqual(400)
      expect(entry.summary.length).toBeGreaterThan(10)
    }
  })

  it('gives an error its code, status, retriability and cause', () => {
    const cause = new Error('root')
    const error = new OmnistitchError('OMNI_ERR_KAFKA_UNAVAILABLE', 'no broker', { cause })
    expect(error).toMatchObject({ code: 'OMNI_ERR_KAFKA_UNAVAILABLE', status: 503, retriable: true, cause })
    expect(hasErrorCode(error, 'OMNI_ERR_KAFKA_UNAVAILABLE')).toBe(true)
    expect(hasErrorCode(error, 'OMNI_ERR_CONFIG_INVALID')).toBe(false)
    expect(hasErrorCode(new Error('x'), 'OMNI_ERR_CONFIG_INVALID')).toBe(false)
  })
})
