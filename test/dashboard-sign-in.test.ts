import { describe, expect, it } from 'vitest'
import { localReaderKeyOf } from '../cli/commands.ts'
import { loadConfig } from '../runtime/config.ts'
import { testApiKeys, testReaderKey } from './helpers.ts'

describe('the local sign-in of the dashboard', () => {
  it('hands out the reader key only on a loopback address and while OMNISTITCH_DASHBOARD_LOCAL_SIGN_IN is on', () => {
    const on = loadConfig({ OMNISTITCH_API_HOST: '127.0.0.1' })
    expect(on.dashboardLocalSignIn).toBe('on')
    expect(localReaderKeyOf(on, testApiKeys)).toBe(testReaderKey)
    const off = loadConfig({ OMNISTITCH_API_HOST: '127.0.0.1', OMNISTITCH_DASHBOARD_LOCAL_SIGN_IN: 'off' })
    expect(localReaderKeyOf(off, testApiKeys)).toBeUndefined()
    const everywhere = loadConfig({ OMNISTITCH_API_HOST: '0.0.0.0' })
    expect(localReaderKeyOf(everywhere, testApiKeys)).toBeUndefined()
  })

  it('refuses another value, naming the ones it takes', () => {
    expect(() => loadConfig({ OMNISTITCH_DASHBOARD_LOCAL_SIGN_IN: 'no' })).toThrow(
      /OMNISTITCH_DASHBOARD_LOCAL_SIGN_IN.*on or off/s,
    )
  })
})
