import fs from 'node:fs'
import { registerSchemaFiles } from '../schemas/schema-catalog.ts'
import { writeMissingFixtures } from '../schemas/schema-evolution.ts'
import { generatedTypesFile, renderCaptureTypes, runSchemaCheck } from '../schemas/schema-tools.ts'

/** `omnistitch schemas check`: exit 1 with the reasons when any schema check fails. */
export async function schemasCheckCommand(): Promise<void> {
  const result = await runSchemaCheck()
  for (const line of result.lines) process.stdout.write(`${line}\n`)
  if (!result.ok) process.exitCode = 1
}

/** `omnistitch schemas register`: give new schema files their ids, then fixtures and types. */
export async function schemasRegisterCommand(): Promise<void> {
  for (const entry of registerSchemaFiles()) {
    process.stdout.write(`registered ${entry.family} v${entry.version} as id ${entry.id}\n`)
  }
  for (const fixture of writeMissingFixtures()) process.stdout.write(`wrote golden fixture ${fixture}\n`)
  await schemasTypesCommand()
}

/** `omnistitch schemas types`: regenerate the TypeScript types from the newest schema versions. */
export async function schemasTypesCommand(): Promise<void> {
  fs.writeFileSync(generatedTypesFile, await renderCaptureTypes())
  process.stdout.write(`wrote ${generatedTypesFile}\n`)
}
