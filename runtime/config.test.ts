import { describe, expect, it } from 'vitest'
import { loadConfig, settings } from './config.ts'
import { hasErrorCode } from './errors.ts'

describe('loadConfig', () => {
  it('gives every documented default when the environment is empty', () => {
    const config = loadConfig({})
    expect(config.kafkaBrokers).toBeUndefined()
    expect(config.clickhouseUrl).toBeUndefined()
    expect(config.clickhouseDatabase).toBe('omnistitch')
    expect(config.apiHost).toBe('127.0.0.1')
    expect(config.apiPort).toBe(8080)
    expect(config.touchpointTopic).toBe('omnistitch.touchpoints')
    expect(config.dataDir).toMatch(/\.omnistitch$/)
  })

  it('parses lists and numbers and resolves paths', () => {
    const config = loadConfig({
      KAFKA_BROKERS: 'kafka-1:9092, kafka-2:9093',
      OMNISTITCH_API_PORT: '9000',
      CLICKHOUSE_URL: 'http://clickhouse:8123',
      OMNISTITCH_DATA_DIR: 'relative/dir',
    })
    expect(config.kafkaBrokers).toEqual(['kafka-1:9092', 'kafka-2:9093'])
    expect(config.apiPort).toBe(9000)
    expect(config.clickhouseUrl).toBe('http://clickhouse:8123')
    expect(config.dataDir).toBe(`${process.cwd()}/relative/dir`)
  })

  it('treats an empty variable as unset', () => {
    expect(loadConfig({ OMNISTITCH_API_PORT: '  ' }).apiPort).toBe(8080)
  })

  it('is frozen', () => {
    const config = loadConfig({})
    expect(Object.isFrozen(config)).toBe(true)
    expect(() => {
      ;(config as { apiPort: number }).apiPort = 1
    }).toThrow(TypeError)
  })

  it.each([
    [
      'OMNISTITCH_API_PORT',
      'eighty',
      /OMNISTITCH_API_PORT="eighty" is invalid: expected a port number from 0 to 65535/,
    ],
    ['OMNISTITCH_API_PORT', '70000', /OMNISTITCH_API_PORT="70000"/],
    [
      'KAFKA_BROKERS',
      'localhost',
      /KAFKA_BROKERS="localhost" is invalid: expected a comma-separated list of host:port/,
    ],
    [
      'CLICKHOUSE_URL',
      'clickhouse:8123',
      /CLICKHOUSE_URL="clickhouse:8123" is invalid: expected an http:\/\/ or https:\/\//,
    ],
    [
      'CLICKHOUSE_DATABASE',
      'drop table; --',
      /CLICKHOUSE_DATABASE=.* is invalid: expected a name of letters, digits and underscores/,
    ],
    ['OMNISTITCH_LOG_LEVEL', 'loud', /OMNISTITCH_LOG_LEVEL="loud" is invalid: expected one of fatal, error/],
    ['KAFKA_TOPIC_TOUCHPOINTS', 'a topic', /KAFKA_TOPIC_TOUCHPOINTS="a topic" is invalid: expected a Kafka topic name/],
    [
      'OMNISTITCH_HASH_SECRET',
      'short',
      /OMNISTITCH_HASH_SECRET="short" is invalid: expected a secret of at least 16 characters/,
    ],
  ])('rejects %s=%s with a message naming the variable and what it accepts', (name, value, message) => {
    let thrown: unknown
    try {
      loadConfig({ [name]: value })
    } catch (error) {
      thrown = error
    }
    expect(hasErrorCode(thrown, 'OMNI_ERR_CONFIG_INVALID')).toBe(true)
    expect((thrown as Error).message).toMatch(message)
  })

  it('reports every bad variable at once', () => {
    expect(() => loadConfig({ OMNISTITCH_API_PORT: 'x', KAFKA_TOPIC_PARTITIONS: '0' })).toThrow(
      /KAFKA_TOPIC_PARTITIONS="0"[\s\S]*OMNISTITCH_API_PORT="x"/,
    )
  })

  it('names a distinct environment variable for every setting', () => {
    const names = Object.values(settings).map((spec) => spec.env)
    expect(new Set(names).size).toBe(names.length)
  })
})
