// Identity resolution against the simulator's truth: pairwise precision and recall of identifier-to-person, and the
// resolver's speed. Prints one JSON line.   npm run bench:identity -- [--customers 3000] [--days 180]
import os from 'node:os'
import { parseArgs } from 'node:util'
import { resolveIdentities, type IdentityEdge } from '../consumers/identity-graph.ts'
import { createIdentifierHasher } from '../producers/identifier-hashing.ts'
import { simulate, type IdentityTruth } from '../producers/simulator/simulate.ts'
import { identifiersOf } from '../schemas/capture-events.ts'

const { values } = parseArgs({
  options: { customers: { type: 'string', default: '3000' }, days: { type: 'string', default: '180' } },
})
const edges: IdentityEdge[] = []
const truth: IdentityTruth[] = []
simulate(
  {
    customers: Number(values.customers),
    days: Number(values.days),
    seed: 3,
    hasher: createIdentifierHasher('bench-secret-0123456789'),
  },
  {
    event: (event) => {
      if (event.family === 'ad-cost') return
      const identifiers = identifiersOf(event)
      if (identifiers) edges.push({ event_id: event.value.event_id, event_time: event.value.event_time, identifiers })
    },
    identity: (entry) => truth.push(entry),
  },
)
const began = performance.now()
const resolution = resolveIdentities(edges)
const milliseconds = performance.now() - began

// Pairwise scores over the identifiers that appear in events and belong to one person.
const owner = new Map(
  truth
    .filter((entry) => entry.note === 'own')
    .map((entry) => [`${entry.kind}:${entry.value}`, entry.person_ids[0] ?? '']),
)
const pairs = (n: number) => (n * (n - 1)) / 2
const both = new Map<string, number>()
const predicted = new Map<string, number>()
const actual = new Map<string, number>()
for (const [identifier, person] of resolution.personOf) {
  const truePerson = owner.get(identifier)
  if (truePerson === undefined) continue
  both.set(`${person}|${truePerson}`, (both.get(`${person}|${truePerson}`) ?? 0) + 1)
  predicted.set(person, (predicted.get(person) ?? 0) + 1)
  actual.set(truePerson, (actual.get(truePerson) ?? 0) + 1)
}
const sum = (counts: Map<string, number>) => [...counts.values()].reduce((total, n) => total + pairs(n), 0)
const shared = truth.filter((entry) => entry.note === 'shared_device' || entry.note === 'generic_store_card')
const quarantined = new Set(resolution.quarantined.map((entry) => entry.identifier))
process.stdout.write(
  `${JSON.stringify({
    bench: 'identity-quality',
    customers: Number(values.customers),
    days: Number(values.days),
    edges: edges.length,
    identifiers: [...predicted.values()].reduce((total, n) => total + n, 0),
    precision: Number((sum(both) / sum(predicted)).toFixed(4)),
    recall: Number((sum(both) / sum(actual)).toFixed(4)),
    shared_identifiers: shared.length,
    shared_quarantined: shared.filter((entry) => quarantined.has(`${entry.kind}:${entry.value}`)).length,
    conflicts: resolution.conflicts.length,
    resolve_ms: Math.round(milliseconds),
    machine: { cpus: os.cpus().length, node: process.version },
  })}\n`,
)
