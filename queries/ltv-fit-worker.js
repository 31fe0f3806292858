// The predictive LTV fit off the API's thread (queries/ltv-route.ts fitPrediction): fitting 170,000 customers is
// seconds of CPU, which on the main thread would hold up every request and the resolver's cycle meanwhile. Plain
// JavaScript so that it starts however the process was started (tsx's CLI or bin/omnistitch.js), then loads the
// TypeScript models through tsx.
import { parentPort, workerData } from 'node:worker_threads'
import { register } from 'tsx/esm/api'

register()
const { fitPredictionHere } = await import('./ltv-prediction.ts')
try {
  parentPort?.postMessage({ prediction: fitPredictionHere(workerData.rows, workerData.options) })
} catch (error) {
  parentPort?.postMessage({ error: { code: error?.code, message: String(error?.message ?? error) } })
}
