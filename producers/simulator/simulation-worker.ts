// A worker thread that runs one shard of a simulation (see simulation-files.ts).
import { parentPort, workerData } from 'node:worker_threads'
import { loadSchemaCatalog } from '../../schemas/schema-catalog.ts'
import { runShard, type ShardTask } from './simulation-files.ts'

parentPort?.postMessage(runShard(workerData as ShardTask, loadSchemaCatalog()))
