import fs from 'node:fs'
import path from 'node:path'
import type avro from 'avsc'
import { listSchemaFiles, readSchemaFile, defaultAvroDir } from './schema-catalog.ts'

/** Where a version's golden fixture lives: a JSON value and the Avro bytes it was written as. */
export function fixturePaths(dir: string, family: string, version: number): { json: string; bytes: string } {
  const base = path.join(dir, family, 'fixtures', `v${version}`)
  return { json: `${base}.json`, bytes: `${base}.avro` }
}

export interface EvolutionReport {
  /** Every (reader, writer) pair checked, as `family vR reads vW`. */
  readonly checked: string[]
  /** What is wrong; empty when every check passed. */
  readonly problems: string[]
}

/**
 * Backward, transitive compatibility: every version of a family must read data written with every earlier version
 * (avsc resolvers), and every version's golden bytes must still decode, with their own schema to the recorded value
 * and with every later schema. A new version that breaks either is reported with the avsc reason.
 */
export function checkEvolution(dir: string = defaultAvroDir): EvolutionReport {
  const checked: string[] = []
  const problems: string[] = []
  const byFamily = new Map<string, { version: number; type: avro.Type }[]>()
  for (const { family, version, file } of listSchemaFiles(dir)) {
    try {
      const versions = byFamily.get(family) ?? []
      versions.push({ version, type: readSchemaFile(file) })
      byFamily.set(family, versions)
    } catch (error) {
      problems.push(`${family}/v${version}.avsc is not a valid Avro schema: ${(error as Error).message}`)
    }
  }
  for (const [family, versions] of byFamily) {
    versions.forEach((writer, index) => {
      if (writer.version !== index + 1) {
        problems.push(
          `${family}: versions must be v1, v2, ... without gaps; found v${writer.version} at position ${index + 1}`,
        )
      }
      const fixture = fixturePaths(dir, family, writer.version)
      let golden: Buffer | undefined
      if (!fs.existsSync(fixture.bytes) || !fs.existsSync(fixture.json)) {
        problems.push(`${family} v${writer.version} has no golden fixture: run \`npm run schemas:fixtures\``)
      } else {
        golden = fs.readFileSync(fixture.bytes)
        const expected: unknown = JSON.parse(fs.readFileSync(fixture.json, 'utf8'))
        try {
          writer.type.fromBuffer(golden)
          if (!writer.type.toBuffer(expected).equals(golden)) {
            problems.push(`${family} v${writer.version}: the recorded value no longer encodes to the golden bytes`)
          }
        } catch (error) {
          problems.push(`${family} v${writer.version}: the golden bytes no longer decode: ${(error as Error).message}`)
        }
      }
      for (const reader of versions.slice(index + 1)) {
        const label = `${family} v${reader.version} reads v${writer.version}`
        checked.push(label)
        let resolver: ReturnType<avro.Type['createResolver']>
        try {
          resolver = reader.type.createResolver(writer.type)
        } catch (error) {
          problems.push(`${label}: incompatible: ${(error as Error).message}`)
          continue
        }
        if (golden !== undefined) {
          try {
            reader.type.fromBuffer(golden, resolver)
          } catch (error) {
            problems.push(`${label}: the v${writer.version} golden bytes do not decode: ${(error as Error).message}`)
          }
        }
      }
    })
  }
  return { checked, problems }
}

/** Writes a golden fixture (a random valid value and its bytes) for every version that has none. Never overwrites. */
export function writeMissingFixtures(dir: string = defaultAvroDir): string[] {
  const written: string[] = []
  for (const { family, version, file } of listSchemaFiles(dir)) {
    const fixture = fixturePaths(dir, family, version)
    if (fs.existsSync(fixture.bytes)) continue
    const type = readSchemaFile(file)
    const value: unknown = type.random()
    fs.mkdirSync(path.dirname(fixture.bytes), { recursive: true })
    fs.writeFileSync(fixture.json, `${JSON.stringify(value, null, 2)}\n`)
    fs.writeFileSync(fixture.bytes, type.toBuffer(value))
    written.push(`${family}/fixtures/v${version}`)
  }
  return written
}
