import { spawn, spawnSync, type ChildProcess } from 'node:child_process'
import crypto from 'node:crypto'
import fs from 'node:fs'
import net from 'node:net'
import path from 'node:path'
import { fileURLToPath } from 'node:url'
import { Kafka, logLevel } from 'kafkajs'
import { OmnistitchError } from '../../runtime/errors.ts'
import type { Logger } from '../../runtime/logger.ts'

/** The Apache Kafka release the local broker runs; the version in infra/kafka/pom.xml must match. */
export const kafkaVersion = '3.9.1'

const pomFile = fileURLToPath(new URL('./pom.xml', import.meta.url))
const installHint =
  'Install Java 17+ and Maven (Debian/Ubuntu: `apt-get install openjdk-17-jre-headless maven`), or use an existing ' +
  'Kafka by setting KAFKA_BROKERS=host:port, or start Kafka and ClickHouse with Docker (`docker compose up -d` with ' +
  'the docker-compose.yml in the repository root) and set KAFKA_BROKERS=localhost:9092.'

export interface LocalKafkaOptions {
  /** Where the jars fetched from Maven Central are cached (`<cacheDir>/kafka-<version>/libs`). */
  readonly cacheDir: string
  /** Broker state: KRaft metadata, topic data, the broker log and its configuration. */
  readonly stateDir: string
  /** Client port; 0 picks a free one. */
  readonly port: number
  readonly heapMb: number
  readonly logger: Logger
  /**
   * true (the default): the broker stops when this process exits, however it exits.
   * false: the broker is detached and outlives this process (`omnistitch kafka start`).
   */
  readonly tiedToParent?: boolean
  /** How long to wait for the broker to answer a metadata request. */
  readonly startTimeoutMs?: number
}

export interface LocalKafka {
  readonly brokers: string[]
  readonly pid: number
  readonly logFile: string
  /** SIGTERM, then SIGKILL if the broker has not exited within `graceMs`. */
  stop(graceMs?: number): Promise<void>
}

/** What a detached broker leaves behind so that `kafka stop` and other commands can find it. */
export interface BrokerStateFile {
  readonly pid: number
  readonly brokers: string[]
  readonly logFile: string
  readonly startedAt: string
}

function hasCommand(command: string, args: string[]): boolean {
  const result = spawnSync(command, args, { stdio: 'ignore' })
  return result.error === undefined && result.status === 0
}

/**
 * Makes sure the Kafka jars are in the cache, fetching them with Maven on first use, and returns the directory that
 * holds them. Fails with a message that says what to install when java or mvn is missing.
 */
export function ensureKafkaInstalled(options: { cacheDir: string; logger: Logger }): string {
  const home = path.join(options.cacheDir, `kafka-${kafkaVersion}`)
  const libs = path.join(home, 'libs')
  const marker = path.join(home, '.complete')
  if (!hasCommand('java', ['-version'])) {
    throw new OmnistitchError(
      'OMNI_ERR_KAFKA_TOOLING_MISSING',
      `The local Kafka broker needs \`java\`, which was not found. ${installHint}`,
    )
  }
  if (fs.existsSync(marker) && fs.existsSync(libs)) return libs
  if (!hasCommand('mvn', ['-v'])) {
    throw new OmnistitchError(
      'OMNI_ERR_KAFKA_TOOLING_MISSING',
      `Fetching Apache Kafka ${kafkaVersion} from Maven Central needs \`mvn\`, which was not found. ${installHint}`,
    )
  }
  options.logger.info({ home }, `fetching Apache Kafka ${kafkaVersion} from Maven Central (first run only)`)
  const result = spawnSync('mvn', ['-q', '-B', '-f', pomFile, 'package', `-Domnistitch.kafka.home=${home}`], {
    encoding: 'utf8',
    stdio: ['ignore', 'pipe', 'pipe'],
  })
  if (result.status !== 0) {
    throw new OmnistitchError(
      'OMNI_ERR_KAFKA_START_FAILED',
      `Maven could not fetch Apache Kafka ${kafkaVersion} (exit ${result.status}):\n${(result.stdout + result.stderr).slice(-4000)}`,
    )
  }
  fs.writeFileSync(marker, new Date().toISOString())
  return libs
}

/** A TCP port that was free a moment ago on 127.0.0.1. */
export async function findFreePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = net.createServer()
    server.unref()
    server.on('error', reject)
    server.listen(0, '127.0.0.1', () => {
      const address = server.address()
      const port = typeof address === 'object' && address !== null ? address.port : 0
      server.close(() => resolve(port))
    })
  })
}

function serverProperties(options: { port: number; controllerPort: number; logDirs: string }): string {
  return [
    '# Written by omnistitch on every start; edit infra/kafka/kafka-launcher.ts instead.',
    'process.roles=broker,controller',
    'node.id=1',
    `controller.quorum.voters=1@127.0.0.1:${options.controllerPort}`,
    `listeners=PLAINTEXT://127.0.0.1:${options.port},CONTROLLER://127.0.0.1:${options.controllerPort}`,
    `advertised.listeners=PLAINTEXT://127.0.0.1:${options.port}`,
    'controller.listener.names=CONTROLLER',
    'inter.broker.listener.name=PLAINTEXT',
    'listener.security.protocol.map=CONTROLLER:PLAINTEXT,PLAINTEXT:PLAINTEXT',
    `log.dirs=${options.logDirs}`,
    'num.partitions=1',
    'default.replication.factor=1',
    'offsets.topic.replication.factor=1',
    'offsets.topic.num.partitions=10',
    'transaction.state.log.replication.factor=1',
    'transaction.state.log.min.isr=1',
    'group.initial.rebalance.delay.ms=0',
    'auto.create.topics.enable=false',
    'log.retention.hours=168',
    '',
  ].join('\n')
}

const log4jProperties = [
  'log4j.rootLogger=INFO, stdout',
  'log4j.appender.stdout=org.apache.log4j.ConsoleAppender',
  'log4j.appender.stdout.layout=org.apache.log4j.PatternLayout',
  'log4j.appender.stdout.layout.ConversionPattern=[%d] %p %m (%c)%n',
  'log4j.logger.kafka.request.logger=WARN',
  'log4j.logger.org.apache.kafka.clients=WARN',
  '',
].join('\n')

function runJava(libs: string, args: string[]): { status: number | null; output: string } {
  const result = spawnSync('java', ['-cp', `${libs}/*`, ...args], {
    encoding: 'utf8',
    stdio: ['ignore', 'pipe', 'pipe'],
  })
  return { status: result.status, output: result.stdout + result.stderr }
}

/** Waits until a kafkajs admin client gets cluster metadata from the broker, or the deadline passes. */
export async function waitForKafka(
  brokers: string[],
  timeoutMs: number,
  exited?: () => string | undefined,
): Promise<void> {
  const deadline = Date.now() + timeoutMs
  let lastError: unknown
  while (Date.now() < deadline) {
    const why = exited?.()
    if (why !== undefined) throw new OmnistitchError('OMNI_ERR_KAFKA_START_FAILED', why)
    const admin = new Kafka({
      clientId: 'omnistitch-launcher',
      brokers,
      logLevel: logLevel.NOTHING,
      retry: { retries: 0 },
      connectionTimeout: 1000,
    }).admin()
    try {
      await admin.connect()
      const cluster = await admin.describeCluster()
      if (cluster.brokers.length > 0 && cluster.controller !== null) return
    } catch (error) {
      lastError = error
    } finally {
      await admin.disconnect().catch(() => undefined)
    }
    await new Promise((resolve) => setTimeout(resolve, 250))
  }
  throw new OmnistitchError(
    'OMNI_ERR_KAFKA_START_FAILED',
    `Kafka at ${brokers.join(',')} gave no metadata within ${timeoutMs} ms`,
    { cause: lastError },
  )
}

function tail(file: string, bytes = 3000): string {
  try {
    const text = fs.readFileSync(file, 'utf8')
    return text.slice(-bytes)
  } catch {
    return '(no log)'
  }
}

function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0)
    return true
  } catch (error) {
    return (error as NodeJS.ErrnoException).code === 'EPERM'
  }
}

/** Sends SIGTERM, waits up to `graceMs` for the process to exit, then sends SIGKILL. */
export async function terminate(pid: number, graceMs: number): Promise<void> {
  if (!isAlive(pid)) return
  process.kill(pid, 'SIGTERM')
  const deadline = Date.now() + graceMs
  while (Date.now() < deadline) {
    if (!isAlive(pid)) return
    await new Promise((resolve) => setTimeout(resolve, 100))
  }
  if (isAlive(pid)) process.kill(pid, 'SIGKILL')
}

/**
 * Starts a single-node KRaft broker with the machine's Java: formats the storage on first use, picks free ports, and
 * waits until the broker answers a metadata request. The broker log goes to `<stateDir>/broker.log`.
 */
export async function startLocalKafka(options: LocalKafkaOptions): Promise<LocalKafka> {
  const tiedToParent = options.tiedToParent ?? true
  const libs = ensureKafkaInstalled(options)
  fs.mkdirSync(options.stateDir, { recursive: true })
  const logDirs = path.join(options.stateDir, 'data')
  const propertiesFile = path.join(options.stateDir, 'server.properties')
  const log4jFile = path.join(options.stateDir, 'log4j.properties')
  const logFile = path.join(options.stateDir, 'broker.log')
  const port = options.port === 0 ? await findFreePort() : options.port
  const controllerPort = await findFreePort()
  fs.writeFileSync(propertiesFile, serverProperties({ port, controllerPort, logDirs }))
  fs.writeFileSync(log4jFile, log4jProperties)

  if (!fs.existsSync(path.join(logDirs, 'meta.properties'))) {
    // A Kafka cluster id is 16 random bytes in URL-safe base64. It may begin with "-", so it is passed as
    // --cluster-id=<id>: as a separate argument the tool's parser would take it for an option.
    const clusterId = crypto.randomBytes(16).toString('base64url')
    const format = runJava(libs, [
      `-Dlog4j.configuration=file:${log4jFile}`,
      'kafka.tools.StorageTool',
      'format',
      `--cluster-id=${clusterId}`,
      `--config=${propertiesFile}`,
    ])
    if (format.status !== 0) {
      throw new OmnistitchError('OMNI_ERR_KAFKA_START_FAILED', `Formatting KRaft storage failed:\n${format.output}`)
    }
  }

  const logFd = fs.openSync(logFile, 'a')
  const javaArgs = [
    `-Xms${Math.min(128, options.heapMb)}m`,
    `-Xmx${options.heapMb}m`,
    '-XX:+UseSerialGC',
    '-XX:TieredStopAtLevel=1',
    '-Djava.awt.headless=true',
    `-Dlog4j.configuration=file:${log4jFile}`,
    `-Domnistitch.watchStdin=${tiedToParent}`,
    '-cp',
    `${libs}/*`,
    'dev.omnistitch.kafka.SupervisedKafka',
    'kafka.Kafka',
    propertiesFile,
  ]
  const child: ChildProcess = spawn('java', javaArgs, {
    // Tied: the broker reads our end of a pipe on stdin and exits when it closes, which the kernel does when this
    // process dies, even by SIGKILL. Detached: no pipe, and it outlives us. Either way it gets its own session, so a
    // Ctrl-C in the terminal reaches only us and we stop the broker last, after the loader has committed.
    stdio: [tiedToParent ? 'pipe' : 'ignore', logFd, logFd],
    detached: true,
  })
  fs.closeSync(logFd)
  const pid = child.pid
  if (pid === undefined) throw new OmnistitchError('OMNI_ERR_KAFKA_START_FAILED', 'could not spawn java')
  let exitedWith: string | undefined
  child.on('exit', (code, signal) => {
    exitedWith = `the broker exited (${signal ?? `code ${code}`}) before it was ready; last lines of ${logFile}:\n${tail(logFile)}`
  })
  const killOnExit = () => child.kill('SIGKILL')
  if (tiedToParent) process.on('exit', killOnExit)
  else child.unref()

  const brokers = [`127.0.0.1:${port}`]
  try {
    await waitForKafka(brokers, options.startTimeoutMs ?? 90_000, () => exitedWith)
  } catch (error) {
    await terminate(pid, 5000)
    throw error
  }
  options.logger.info({ brokers, pid, logFile }, `local Kafka ${kafkaVersion} is up`)

  return {
    brokers,
    pid,
    logFile,
    async stop(graceMs = 20_000) {
      const exited = new Promise<void>((resolve) => {
        if (child.exitCode !== null || child.signalCode !== null) resolve()
        else child.once('exit', () => resolve())
      })
      await terminate(pid, graceMs)
      if (tiedToParent) await exited
      process.off('exit', killOnExit)
    },
  }
}

/** Where a detached broker records itself. */
export function brokerStateFile(stateDir: string): string {
  return path.join(stateDir, 'broker.json')
}

/** The detached local broker recorded in `stateDir`, if its process is still alive. */
export function readRunningBroker(stateDir: string): BrokerStateFile | undefined {
  try {
    const state = JSON.parse(fs.readFileSync(brokerStateFile(stateDir), 'utf8')) as BrokerStateFile
    return isAlive(state.pid) ? state : undefined
  } catch {
    return undefined
  }
}
