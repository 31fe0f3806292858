// Identity resolution against the simulator's truth: pairwise precision and recall of identifier-to-person, and the
// resolver's speed. Prints one JSON line.   npm run bench:identity -- [--customers 3000] [--days 180]
import os from 'node:os'
import { parseArgs } from 'node:util'
import { resolveIdentities, type IdentityEdge } from '../consumers/identity-graph.ts'
import { scoreStitching } from '../consumers/identity-quality.ts'
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

const score = scoreStitching(resolution.personOf, truth, edges)
const shared = truth.filter((entry) => entry.note === 'shared_device' || entry.note === 'generic_store_card')
const quarantined = new Set(resolution.quarantined.map((entry) => entry.identifier))
process.stdout.write(
  `${JSON.stringify({
    bench: 'identity-quality',
    customers: Number(values.customers),
    days: Number(values.days),
    edges: edges.length,
    identifiers: score.identifiers,
    precision: Number(score.precision.toFixed(4)),
    recall: Number(score.recall.toFixed(4)),
    linkable_share: Number((score.linkable?.linkable_share ?? 0).toFixed(4)),
    recall_of_linkable: Number((score.linkable?.recall ?? 0).toFixed(4)),
    bcubed_precision: Number(score.bcubed.precision.toFixed(4)),
    bcubed_recall: Number(score.bcubed.recall.toFixed(4)),
    shared_identifiers: shared.length,
    shared_quarantined: shared.filter((entry) => quarantined.has(`${entry.kind}:${entry.value}`)).length,
    conflicts: resolution.conflicts.length,
    resolve_ms: Math.round(milliseconds),
    machine: { cpus: os.cpus().length, node: process.version },
  })}\n`,
)
