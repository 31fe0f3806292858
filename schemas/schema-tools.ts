import fs from 'node:fs'
import path from 'node:path'
import { fileURLToPath } from 'node:url'
import { defaultAvroDir, loadSchemaCatalog } from './schema-catalog.ts'
import { checkEvolution } from './schema-evolution.ts'
import { generateTypeScript } from './type-generator.ts'

export const generatedTypesFile = fileURLToPath(new URL('./generated/capture-types.ts', import.meta.url))

/** The generated TypeScript for the newest version of every family, formatted as the repository formats code. */
export async function renderCaptureTypes(dir: string = defaultAvroDir): Promise<string> {
  const catalog = loadSchemaCatalog(dir)
  const source = generateTypeScript(
    catalog.families().map((family) => ({
      family,
      schema: JSON.parse(fs.readFileSync(catalog.latest(family)?.file ?? '', 'utf8')) as Record<string, unknown>,
    })),
  )
  // prettier is a development dependency: generating types is a development task.
  const prettier = await import('prettier')
  const options = await prettier.resolveConfig(generatedTypesFile)
  return prettier.format(source, { ...options, filepath: generatedTypesFile })
}

export interface SchemaCheckResult {
  readonly ok: boolean
  readonly lines: string[]
}

/**
 * Everything `npm run schemas:check` proves: every schema file has an id and is unchanged since it got one, versions
 * are backward compatible (transitively) and their golden bytes decode, and the generated TypeScript is current.
 */
export async function runSchemaCheck(
  dir: string = defaultAvroDir,
  typesFile: string = generatedTypesFile,
): Promise<SchemaCheckResult> {
  const lines: string[] = []
  let ok = true
  try {
    const catalog = loadSchemaCatalog(dir)
    lines.push(`ids: ${catalog.entries.length} schema versions registered, none changed since`)
  } catch (error) {
    ok = false
    lines.push(`FAIL ids: ${(error as Error).message}`)
  }
  const evolution = checkEvolution(dir)
  for (const problem of evolution.problems) lines.push(`FAIL evolution: ${problem}`)
  if (evolution.problems.length > 0) ok = false
  else lines.push(`evolution: ${evolution.checked.length} reader/writer pairs compatible; golden fixtures decode`)
  if (ok) {
    const expected = await renderCaptureTypes(dir)
    const actual = fs.existsSync(typesFile) ? fs.readFileSync(typesFile, 'utf8') : ''
    if (expected !== actual) {
      ok = false
      lines.push(`FAIL types: ${path.relative(process.cwd(), typesFile)} is out of date: run \`npm run schemas:types\``)
    } else {
      lines.push('types: generated TypeScript matches the schemas')
    }
  }
  return { ok, lines }
}
