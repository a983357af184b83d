/**
 * The gateway role, turning: election rounds on a steady beat, and between them passes that do what
 * the last decision asks. While this node is active it keeps charon running, publishes the cluster's
 * one Endpoint (fenced by the Lease's transition count), connects a cable to every remote cluster
 * the verdict accepts, and runs the broker sync; every candidate, active or not, keeps its Gateway
 * object fresh. The decisions are pure (model/gateway-ha.ts, plan/*); this holds no policy beyond
 * the order of the steps, and it never tears the datapath down on an API failure: only a decision
 * does (another holder observed, a handover gone through).
 */
import { performance } from 'node:perf_hooks';
import { DEFAULTS, SUBMARINER_LEASE_NAME } from '../config.ts';
import type { BrokerSync } from '../k8s/broker-sync.ts';
import type { GatewayStatusPublisher, GatewayStatusWriter } from '../k8s/gateway-status-writer.ts';
import type { Informer } from '../k8s/informer.ts';
import type { LeaseClient } from '../k8s/lease.ts';
import type { SnapshotInformers } from '../k8s/snapshot-informers.ts';
import type { ConnectableCable } from '../cable/cable-component.ts';
import { cableComponent } from '../cable/cable-component.ts';
import type { CableStatus } from '../cable/cable.ts';
import { recordCableStatus } from '../cable/cable-metrics.ts';
import type { HealthChecker } from '../cable/health-checker.ts';
import { recordConnections } from './connection-metrics.ts';
import type { NatDiscovery } from '../cable/nat-discovery.ts';
import { natRemoteFromEndpoint } from '../plan/nat-discovery-requester.ts';
import { ownHealthCheckIp } from '../plan/health-probes.ts';
import { endpointValidationContext, validateEndpoint, type EndpointSpec } from '../model/endpoint.ts';
import { errorText } from '../model/error-text.ts';
import type { HaDecision, HaState } from '../model/gateway-ha.ts';
import type { Snapshot } from '../model/snapshot.ts';
import { judgeEndpoints } from '../plan/endpoint-verdict.ts';
import type { AcceptedEndpoint } from '../model/endpoint-set.ts';
import { formatCidr } from '../model/cidr.ts';
import { candidacy } from '../plan/gateway-candidacy.ts';
import { EMPTY_TRAFFIC, gatewayObject, observeTraffic, standbyReady, SUBMARINER_STALE_MS, type TrafficState } from '../plan/gateway-status.ts';
import { FENCING_ANNOTATION, localEndpointObject, type LocalEndpointObject } from '../plan/local-endpoint-object.ts';
import { remoteCables } from '../plan/remote-cables.ts';
import type { Readiness } from '../server/readiness.ts';
import type { Logger } from '../telemetry/logger.ts';
import type { Metrics } from '../telemetry/metrics.ts';
import { Streaks } from '../telemetry/streaks.ts';
import { GatewayElection } from './election.ts';
import { localClusterObject, publishLocalCluster, publishLocalEndpoint, type EndpointWrite, type StoredEndpoint } from './endpoint-publisher.ts';

/** Readiness condition: this node's gateway configuration (PSK, broker credentials, node facts) is usable. */
export const GATEWAY_CONFIG = 'gateway-config';
/** Readiness condition: the informers have listed once (nothing is decided before). */
export const GATEWAY_SYNC = 'gateway-informers';
/** How often the active gateway looks for Gateway objects of nodes that are no longer candidates. */
const STALE_SWEEP_MS = 30_000;
/**
 * After handing over, the tunnels stay until the new gateway's Endpoint is published and the remote
 * clusters have moved to it (their side of each cable gone), at most this long after the new Endpoint
 * appeared, and at most RELEASE_HOLD_MAX_MS in all: make-before-break, so a planned handover costs
 * the remote clusters' reaction time, not the standby's whole start.
 */
const RELEASE_HOLD_AFTER_SUCCESSOR_MS = 3000;
const RELEASE_HOLD_MAX_MS = 10_000;
/** Of a stop's deadline, what is kept for taking the tunnels down after a handover's hold. */
const STOP_TEARDOWN_MARGIN_MS = 1500;
/** After an unexpected error in the loop, the next turn waits this long (never a hot loop). */
const LOOP_ERROR_PAUSE_MS = 1000;

export interface GatewaySettings {
  clusterId: string;
  namespace: string;
  nodeName: string;
  podCidrs: readonly string[];
  serviceCidrs: readonly string[];
  nodeIp: string | null;
  publicIp: string | null;
  natTPort: number;
  nattDiscoveryPort: number;
  natEnabled: boolean;
  gatewayLabel: { key: string; value: string };
  leaseName: string;
  leaseDurationSeconds: number;
  leaseRetryMs: number;
  cableConnectTimeoutSeconds: number;
  minPassIntervalMs: number;
  version: string;
  /** The Endpoint backend this gateway's cable speaks (Submariner's name for it). */
  backend: string;
}

/** A running cable and how to stop it (charon and its helpers). */
export interface CableRuntime {
  cable: ConnectableCable & { holdSubnets(subnets: readonly string[]): Promise<void> };
  /** backend_config entries the cable announces on the local Endpoint besides the ports (WireGuard: its public key). */
  backendConfig?(): Record<string, string>;
  stop(): Promise<void>;
}

export interface GatewayRoleDeps {
  settings: GatewaySettings;
  log: Logger;
  metrics: Metrics;
  readiness: Readiness;
  informers: SnapshotInformers;
  gateways: Informer<unknown>;
  /** The namespace's Leases, watched: a standby decides at once when the Lease is released or changes hands. */
  leaseWatch: Informer<{ name: string; holder: string }>;
  leases: LeaseClient;
  writeEndpoint: EndpointWrite;
  statusWriter: Pick<GatewayStatusWriter, 'removeStale'>;
  statusPublisher: GatewayStatusPublisher;
  /** Starts the cable daemon for this local Endpoint (its private and public IP). */
  startCable(local: LocalEndpointObject): Promise<CableRuntime>;
  /** A new broker sync (started by the role while active), or null while the broker credentials do not load. */
  brokerSync(): BrokerSync | null;
  /**
   * Removes what a cable of an earlier run left in the kernel (its fail-closed blackholes, its source
   * addresses): a gateway that starts and finds another active must not drop traffic on a floor it
   * no longer serves.
   */
  clearLeftovers(): Promise<void>;
  /** Why the PSK cannot be used, or null (read on every round: a fixed Secret is taken up without a restart). */
  pskProblem(): Promise<string | null>;
  /** Why the broker credentials cannot be used, or null. */
  brokerProblem(): string | null;
  /**
   * Opens NAT discovery (UDP natt-discovery-port) for this local Endpoint: its responder answers the
   * remote gateways, its requester chooses each remote's address. Opened with the cable, closed with it.
   */
  natDiscovery(local: LocalEndpointObject, onSelected: () => void): Promise<Pick<NatDiscovery, 'discover' | 'forget' | 'reprobe' | 'close'>>;
  /** Health checks through the cables (cable/health-checker.ts): the active gateway sets the targets. */
  health: Pick<HealthChecker, 'setTargets' | 'health'>;
  /** This gateway's health-check address (its CNI interface's), published as the Endpoint's healthCheckIP. */
  healthCheckIp(): Promise<string | undefined>;
}

export class GatewayRole {
  readonly #deps: GatewayRoleDeps;
  readonly #log: Logger;
  readonly #election: GatewayElection;
  readonly #monotonic: () => number;
  readonly #abort = new AbortController();
  readonly #said = new Streaks();
  #stopping = false;
  #decision: HaDecision | undefined;
  #runtime: CableRuntime | null = null;
  #component: ReturnType<typeof cableComponent> | null = null;
  #broker: BrokerSync | null = null;
  #refusal: string | null = null;
  #labelled = false;
  #localEndpoint: LocalEndpointObject | null = null;
  #endpointProblem: string | null = null;
  #traffic: TrafficState = EMPTY_TRAFFIC;
  #lastStaleSweep = -Infinity;
  #wake: (() => void) | null = null;
  /** Something woke the loop while it was not sleeping: the next sleep returns at once. */
  #wakePending = false;
  /** After a stop: the handover must be over by then, so the teardown runs before the closers. */
  #stopBy: number | null = null;
  #loop: Promise<void> | null = null;
  /** A round is due before the next beat: a Lease someone else wrote changed. */
  #roundNow = false;
  /** Handed over, cables still up until the successor has taken the traffic (see RELEASE_HOLD_*). */
  #releasing: { since: number; successorSeen?: number } | null = null;
  readonly #identity: string;

  constructor(deps: GatewayRoleDeps) {
    this.#deps = deps;
    this.#log = deps.log.child({ component: 'gateway' });
    this.#monotonic = () => performance.now();
    const { settings } = deps;
    this.#identity = `${settings.nodeName}-seaway-gateway`;
    this.#election = new GatewayElection({
      leases: deps.leases,
      leaseName: settings.leaseName,
      submarinerLeaseName: SUBMARINER_LEASE_NAME,
      identity: this.#identity,
      leaseDurationSeconds: settings.leaseDurationSeconds,
      facts: () => ({
        refusal: this.#refusal, labelled: this.#labelled, stopping: this.#stopping,
        standbyReady: standbyReady(deps.gateways.list(), settings.nodeName, Date.now(), SUBMARINER_STALE_MS),
      }),
      onDecision: (decision, transition) => this.#onDecision(decision, transition),
      log: this.#log,
    });
  }

  get state(): HaState {
    return this.#election.state;
  }

  get decision(): HaDecision | undefined {
    return this.#decision;
  }

  /** Starts the loop once the informers have listed (nothing is decided on an empty view). */
  start(): void {
    this.#loop ??= this.#run().catch((error: unknown) => this.#log.error({ err: errorText(error) }, 'gateway loop ended unexpectedly'));
    const wake = () => this.#wakeUp();
    this.#deps.informers.onChange(wake);
    this.#deps.gateways.onChange(wake);
    // Our own renewals change the Lease too: only someone else's write is news worth a round.
    const watched = new Set([this.#deps.settings.leaseName, SUBMARINER_LEASE_NAME]);
    this.#deps.leaseWatch.onChange((changes) => {
      if (changes.some((c) => watched.has(c.current?.name ?? c.previous?.name ?? '') && c.current?.holder !== this.#identity)) {
        this.#roundNow = true;
        wake();
      }
    });
  }

  /**
   * SIGTERM: hands over to a ready standby (release, then tear down), or without one leaves the
   * kernel state for a restarted gateway; resolves when the loop has ended or at the deadline.
   */
  async stop(deadlineMs: number): Promise<void> {
    this.#stopping = true;
    // The hold after a release must end, and the tunnels come down, while there is time left before the closers.
    this.#stopBy = this.#monotonic() + Math.max(0, deadlineMs - STOP_TEARDOWN_MARGIN_MS);
    this.#wakeUp();
    const ended = this.#loop ?? Promise.resolve();
    let timer: NodeJS.Timeout | undefined;
    await Promise.race([ended, new Promise<void>((resolve) => { timer = setTimeout(resolve, deadlineMs); })]);
    clearTimeout(timer);
    // Said before leaving, so Submariner's tools do not count this gateway active until its object goes stale.
    if (this.#decision?.state === 'stopped') {
      await this.#publishStatus(this.#deps.informers.snapshot(), 'passive', []).catch((error: unknown) => this.#log.debug({ err: errorText(error) }, 'final Gateway status not written'));
    }
    this.#abort.abort(new Error('gateway stopping'));
    await this.#broker?.stop();
    this.#broker = null;
  }

  async #run(): Promise<void> {
    const { informers, gateways, readiness, settings } = this.#deps;
    readiness.unmet(GATEWAY_SYNC, 'waiting for the first list of Nodes, Endpoints, Clusters and Gateways');
    while (!(informers.synced && gateways.synced)) {
      if (this.#stopping) return;
      await this.#sleep(100);
    }
    readiness.met(GATEWAY_SYNC);
    let nextRound = 0;
    let lastPass = -Infinity;
    for (;;) {
      try {
        const now = this.#monotonic();
        const stepping = this.#stopping && this.#decision?.state !== 'stopped';
        if (now >= nextRound || stepping || this.#roundNow) {
          this.#roundNow = false;
          await this.#refreshFacts();
          this.#decision = await this.#election.round();
          // Why it is in its state, once per reason: a standby that stays standby for a new reason (Submariner's gateway came up) says so.
          if (this.#said.mark('decision', `${this.#decision.state} ${this.#decision.reason}`) === 'new') {
            this.#log.info({ state: this.#decision.state, reason: this.#decision.reason }, `gateway ${this.#decision.state}: ${this.#decision.reason}`);
          }
          this.#deps.metrics.gatewayHaState.reset();
          this.#deps.metrics.gatewayHaState.set({ state: this.#decision.state }, 1);
          nextRound = this.#monotonic() + settings.leaseRetryMs;
        }
        await this.#finishRelease();
        if (this.#decision?.state === 'stopped' && this.#releasing === null) return;
        // Bursts of informer events cost one pass.
        const sinceLast = this.#monotonic() - lastPass;
        if (sinceLast < settings.minPassIntervalMs) await this.#sleep(settings.minPassIntervalMs - sinceLast);
        lastPass = this.#monotonic();
        await this.#pass();
        if (this.#stopping && this.#decision?.state !== 'stopped') continue;
        // A handover in progress is looked at often: the tunnels go as soon as the remote clusters have moved.
        const untilRound = Math.max(0, nextRound - this.#monotonic());
        await this.#sleep(this.#releasing === null ? untilRound : Math.min(100, untilRound));
      } catch (error) {
        // A bug or a daemon that will not stop must not end the election: said, and the loop goes on.
        this.#log.error({ err: errorText(error) }, 'gateway loop turn failed; going on');
        await new Promise((resolve) => setTimeout(resolve, LOOP_ERROR_PAUSE_MS));
      }
    }
  }

  #wakeUp(): void {
    if (this.#wake) this.#wake();
    else this.#wakePending = true;
  }

  /** Something the status depends on changed outside the informers (a health verdict): a turn now. */
  wake(): void {
    this.#wakeUp();
  }

  /** Sleeps until the time passes or something wakes the loop (an informer change, a stop), also one that came while it was busy. */
  #sleep(ms: number): Promise<void> {
    if (this.#wakePending) {
      this.#wakePending = false;
      return Promise.resolve();
    }
    return new Promise((resolve) => {
      const done = () => {
        clearTimeout(timer);
        this.#wake = null;
        resolve();
      };
      const timer = setTimeout(done, ms);
      this.#wake = done;
    });
  }

  /** The facts the election reads: label, refusal, and the local Endpoint they imply. */
  async #refreshFacts(): Promise<void> {
    const { settings, informers, readiness } = this.#deps;
    const snapshot = informers.snapshot();
    const node = snapshot.nodes.find((n) => n.name === settings.nodeName) ?? null;
    this.#localEndpoint = null;
    this.#endpointProblem = null;
    if (node === null) {
      this.#endpointProblem = `Node ${settings.nodeName} is not known to the API server`;
    } else {
      const healthCheckIp = await this.#deps.healthCheckIp().catch(() => undefined);
      const built = localEndpointObject({
        clusterId: settings.clusterId, namespace: settings.namespace, node,
        ...(healthCheckIp === undefined ? {} : { healthCheckIp }),
        ...(settings.nodeIp === null ? {} : { nodeIp: settings.nodeIp }),
        ...(settings.publicIp === null ? {} : { publicIp: settings.publicIp }),
        subnets: [...settings.serviceCidrs, ...settings.podCidrs],
        backend: settings.backend, natEnabled: settings.natEnabled, natTPort: settings.natTPort, nattDiscoveryPort: settings.nattDiscoveryPort,
        // Replaced by the Lease's count when published; building it here only proves the node's facts are usable.
        fencingToken: this.#decision?.fencingToken ?? 0,
      });
      if (built.ok) this.#localEndpoint = built.object;
      else this.#endpointProblem = built.reason;
    }
    const verdict = candidacy({
      node, label: settings.gatewayLabel,
      pskProblem: await this.#deps.pskProblem(), brokerProblem: this.#deps.brokerProblem(), endpointProblem: this.#endpointProblem,
    });
    this.#labelled = verdict.labelled;
    if (verdict.refusal !== this.#refusal) {
      if (verdict.refusal === null) this.#log.info('gateway configuration usable: this node is a candidate');
      else this.#log.warn({ reason: verdict.refusal }, 'this node refuses gateway candidacy (its routing goes on)');
    }
    this.#refusal = verdict.refusal;
    if (verdict.refusal === null) readiness.met(GATEWAY_CONFIG);
    else readiness.unmet(GATEWAY_CONFIG, `not a gateway candidate: ${verdict.refusal}`);
  }

  async #onDecision(decision: HaDecision, transition: { from: HaState; to: HaState } | null): Promise<void> {
    if (transition) this.#deps.metrics.gatewayTransitions.inc({ to: transition.to });
    switch (decision.cables) {
      case 'run':
        await this.#ensureCable();
        return;
      case 'release':
        // The new holder runs the broker sync; our tunnels carry on until it has taken the traffic.
        await this.#stopBroker();
        if (this.#runtime !== null) {
          this.#releasing = { since: this.#monotonic() };
          this.#log.info('handed over: the tunnels stay until the new gateway\'s Endpoint is published and the remote clusters have moved to it');
        }
        return;
      case 'stop':
        this.#releasing = null;
        await this.#teardown(decision.reason);
        return;
      case 'abandon':
        await this.#abandon();
        return;
      case 'keep':
        return;
    }
  }

  async #ensureCable(): Promise<void> {
    const local = this.#localEndpoint;
    if (this.#runtime || local === null) return;
    try {
      this.#runtime = await this.#deps.startCable(local);
      // Without discovery every remote gets the legacy address choice: a cable still comes up.
      this.#nat = await this.#deps.natDiscovery(local, () => this.#wakeUp()).catch((error: unknown) => {
        this.#log.warn({ err: errorText(error) }, 'NAT discovery does not start; remotes are reached at their legacy address');
        return null;
      });
      this.#component = cableComponent(this.#runtime.cable, this.#deps.settings.cableConnectTimeoutSeconds * 1000);
      this.#deps.readiness.met('cable');
    } catch (error) {
      this.#deps.readiness.unmet('cable', `the cable daemon does not start: ${errorText(error)}; retrying`);
      this.#log.error({ err: errorText(error) }, 'the cable daemon does not start; retrying on the next round');
    }
  }

  /** After a handover: the cables go once the successor has the traffic, or at the latest after RELEASE_HOLD_MAX_MS. */
  async #finishRelease(): Promise<void> {
    const releasing = this.#releasing;
    const runtime = this.#runtime;
    if (releasing === null) return;
    if (runtime === null || this.#decision?.cables === 'run') {
      this.#releasing = null;
      return;
    }
    const now = this.#monotonic();
    const { settings } = this.#deps;
    const successor = this.#deps.informers.snapshot().endpoints.some((e) => {
      const spec = e.spec as { cluster_id?: unknown; hostname?: unknown } | null;
      return spec?.cluster_id === settings.clusterId && spec.hostname !== settings.nodeName;
    });
    if (successor) releasing.successorSeen ??= now;
    let remotesMoved = false;
    if (releasing.successorSeen !== undefined) {
      const statuses = await runtime.cable.status().catch(() => []);
      remotesMoved = statuses.every((s) => s.state !== 'connected');
    }
    const held = now - releasing.since;
    const sinceSuccessor = releasing.successorSeen === undefined ? 0 : now - releasing.successorSeen;
    const outOfTime = this.#stopBy !== null && now >= this.#stopBy;
    if (remotesMoved || sinceSuccessor >= RELEASE_HOLD_AFTER_SUCCESSOR_MS || held >= RELEASE_HOLD_MAX_MS || outOfTime) {
      this.#releasing = null;
      await this.#teardown(remotesMoved ? 'handed over: the remote clusters moved to the new gateway' : `handed over ${Math.round(held)} ms ago`);
    }
  }

  /** No longer active: the broker sync ends, every cable is taken down (its fail-closed floor with it), then charon. */
  async #teardown(why: string): Promise<void> {
    await this.#stopBroker();
    await this.#stopProbing();
    const runtime = this.#runtime;
    this.#runtime = null;
    if (runtime !== null) {
      this.#log.info({ why }, 'taking the cables down');
      const report = await this.#component?.apply({ endpoints: [] }, () => true);
      for (const failure of report?.failures ?? []) this.#log.warn({ cable: failure.key, err: failure.reason }, 'disconnecting a cable failed; charon stops anyway');
      this.#component = null;
      try {
        await runtime.stop();
      } finally {
        this.#traffic = EMPTY_TRAFFIC;
        this.#noteCables([]);
        recordCableStatus(this.#deps.metrics, this.#deps.settings.backend, []);
        this.#deps.metrics.rejectedCables.reset();
        this.#deps.readiness.met('cable');
      }
    }
    // Whatever a disconnect left (it may have failed), and what an earlier run left: never a floor on a node that no longer serves it.
    try {
      await this.#deps.clearLeftovers();
    } catch (error) {
      this.#log.warn({ err: errorText(error) }, 'removing the cable\'s kernel state (fail-closed floor, source addresses) failed; retried on the next step down');
    }
  }

  /**
   * Exiting without a ready standby: the fail-closed floor and the routes stay, so no remote-bound
   * packet leaves in the clear while no gateway runs, and a restarted gateway adopts the state.
   */
  async #abandon(): Promise<void> {
    await this.#stopBroker();
    await this.#stopProbing();
    const runtime = this.#runtime;
    this.#runtime = null;
    this.#component = null;
    this.#log.warn('stopping with no ready standby: the cables\' kernel state stays for a restarted gateway to adopt');
    await runtime?.stop();
  }

  /** The health checks and NAT discovery end with the cables (NAT discovery's socket would keep the process alive). */
  async #stopProbing(): Promise<void> {
    this.#deps.health.setTargets([]);
    this.#unhealthy.clear();
    const nat = this.#nat;
    this.#nat = null;
    this.#natKnown.clear();
    this.#usingNat.clear();
    this.#deps.metrics.natSelection.reset();
    await nat?.close().catch((error: unknown) => this.#log.warn({ err: errorText(error) }, 'closing NAT discovery failed'));
  }

  async #stopBroker(): Promise<void> {
    const broker = this.#broker;
    this.#broker = null;
    await broker?.stop();
    // Liveness is the broker sync's view: not reported by a gateway that no longer runs it.
    this.#deps.metrics.remoteClusterLiveness.reset();
  }

  /** One pass: what the current decision asks of the cables, the Endpoint and the broker, then this node's Gateway object. */
  async #pass(): Promise<void> {
    const decision = this.#decision;
    const snapshot = this.#deps.informers.snapshot();
    const running = decision?.cables === 'run';
    let statuses: CableStatus[] = [];
    if (running) {
      await this.#ensureCable();
      const remotes = this.#remoteVerdict(snapshot);
      // The floor first: the route agents send every accepted remote's traffic here once the Endpoint is out.
      const floored = await this.#holdFloor(remotes);
      if (floored && decision.state === 'active' && decision.fencingToken !== undefined) await this.#publish(snapshot, decision.fencingToken);
      if (decision.state === 'active') this.#ensureBroker();
      statuses = await this.#connect(remotes);
    }
    await this.#publishStatus(snapshot, running ? 'active' : 'passive', statuses);
  }

  /** The local Endpoint as the node's facts make it, with what the running cable announces. */
  #announced(): LocalEndpointObject | null {
    const local = this.#localEndpoint;
    const extra = this.#runtime?.backendConfig?.();
    if (local === null || !extra) return local;
    return { ...local, spec: { ...local.spec, backend_config: { ...(local.spec.backend_config as Record<string, string>), ...extra } } };
  }

  async #publish(snapshot: Snapshot, token: number): Promise<void> {
    const local = this.#announced();
    if (local === null) return;
    const desired: LocalEndpointObject = { ...local, metadata: { ...local.metadata, annotations: { ...local.metadata.annotations, [FENCING_ANNOTATION]: String(token) } } };
    const stored: StoredEndpoint[] = snapshot.endpoints.map((e) => ({
      name: e.name, uid: e.uid, resourceVersion: e.resourceVersion, spec: e.spec, annotations: e.annotations ?? {},
      clusterId: typeof (e.spec as { cluster_id?: unknown } | null)?.cluster_id === 'string' ? (e.spec as { cluster_id: string }).cluster_id : undefined,
    }));
    try {
      const outcome = await publishLocalEndpoint(stored, desired, this.#deps.settings.clusterId, token, this.#deps.writeEndpoint, this.#abort.signal);
      if (outcome.kind === 'superseded') {
        this.#log.warn({ by: outcome.by, theirToken: outcome.token, ourToken: token }, 'a newer leader\'s Endpoint exists: this gateway publishes nothing');
      } else if (outcome.wrote !== 'unchanged' || outcome.deleted.length > 0) {
        this.#log.info({ endpoint: desired.metadata.name, wrote: outcome.wrote, deleted: outcome.deleted, fencingToken: token }, 'local Endpoint published');
      }
      const { settings } = this.#deps;
      const cluster = localClusterObject(settings.clusterId, settings.namespace, settings.podCidrs, settings.serviceCidrs);
      const wrote = await publishLocalCluster(snapshot.clusters.find((c) => c.name === cluster.metadata.name), cluster, this.#deps.writeEndpoint, this.#abort.signal);
      if (wrote !== 'unchanged') this.#log.info({ cluster: cluster.metadata.name, wrote }, 'local Cluster published');
      this.#said.clear('publish');
    } catch (error) {
      const text = errorText(error);
      this.#log[this.#said.mark('publish', text) === 'new' ? 'warn' : 'debug']({ err: text }, 'publishing the local Endpoint and Cluster failed; retrying');
    }
  }

  #ensureBroker(): void {
    if (this.#broker) return;
    this.#broker = this.#deps.brokerSync();
    this.#broker?.start();
  }

  /** The cables the verdict wants, through the cable component; their status for the Gateway object. */
  /** The remote Endpoints as the route agents judge them (the same cluster-wide verdict). */
  #remoteVerdict(snapshot: Snapshot): AcceptedEndpoint[] {
    const { settings } = this.#deps;
    return judgeEndpoints(snapshot, { networks: [] }, {
      clusterId: settings.clusterId, podCidrs: [...settings.podCidrs], serviceCidrs: [...settings.serviceCidrs],
      minPrefixLength: DEFAULTS.minPrefixLength, maxSubnetsPerEndpoint: DEFAULTS.maxSubnetsPerEndpoint,
    }, null).remotes;
  }

  /** Every accepted remote subnet dropped by the floor unless a cable carries it; false when that could not be made sure of. */
  async #holdFloor(remotes: readonly AcceptedEndpoint[]): Promise<boolean> {
    const runtime = this.#runtime;
    if (runtime === null) return false;
    try {
      await runtime.cable.holdSubnets(remotes.flatMap((r) => r.subnets.map((c) => formatCidr(c))));
      this.#said.clear('floor');
      return true;
    } catch (error) {
      const text = errorText(error);
      if (this.#said.mark('floor', text) === 'new') this.#log.warn({ err: text }, 'the fail-closed floor cannot be set; the Endpoint is not published until it is');
      return false;
    }
  }

  async #connect(remotes: readonly AcceptedEndpoint[]): Promise<CableStatus[]> {
    const runtime = this.#runtime;
    const component = this.#component;
    if (runtime === null || component === null) return [];
    const { settings, metrics } = this.#deps;
    const wanted = this.#discovered(remotes, remoteCables(remotes, { backend: settings.backend, natEnabled: settings.natEnabled }));
    metrics.rejectedCables.reset();
    for (const rejected of wanted.rejected) {
      metrics.rejectedCables.set({ cluster: rejected.clusterId }, 1);
      const line = `${rejected.endpoint}: ${rejected.reason}`;
      if (this.#said.mark(`reject ${rejected.endpoint}`, line) === 'new') this.#log.warn({ endpoint: rejected.endpoint, cluster: rejected.clusterId, reason: rejected.reason }, 'no cable to this remote cluster');
    }
    try {
      const report = await component.apply({ endpoints: wanted.cables }, () => true);
      for (const failure of report.failures) {
        if (this.#said.mark(`cable ${failure.key}`, failure.reason) === 'new') this.#log.warn({ cable: failure.key, err: failure.reason }, 'cable failed; retrying');
      }
      for (const started of report.started ?? []) {
        started.completion.then(
          () => this.#log.info({ cable: started.key }, 'cable connected'),
          (error: unknown) => this.#log.warn({ cable: started.key, err: errorText(error) }, 'cable did not come up in time; trying again'),
        );
      }
    } catch (error) {
      this.#log.warn({ err: errorText(error) }, 'connecting the cables failed; retrying');
    }
    let statuses: CableStatus[] = [];
    try {
      statuses = await runtime.cable.status();
    } catch (error) {
      this.#log.debug({ err: errorText(error) }, 'cable status unavailable');
    }
    recordCableStatus(metrics, settings.backend, statuses);
    this.#noteCables(statuses);
    this.#remotes = wanted.cables.map((cable) => {
      const accepted = remotes.find((r) => r.spec.cableName === cable.cableName);
      return { endpoint: accepted?.spec as EndpointSpec, usingIP: cable.address, usingNAT: this.#usingNat.get(cable.cableName) ?? cable.address !== cable.privateIp };
    }).filter((r) => r.endpoint !== undefined);
    // A cluster this gateway cannot build a cable to is on its Gateway object too, as an error saying why:
    // `subctl show connections` on either side names a cable mismatch instead of showing nothing.
    for (const rejected of wanted.rejected) {
      const accepted = remotes.find((r) => `${r.object?.namespace}/${r.object?.name}` === rejected.endpoint);
      if (accepted) this.#remotes.push({ endpoint: accepted.spec, usingIP: '', usingNAT: false, refused: rejected.reason });
    }
    // Every cable whose remote names a health-check address of its own is probed through it.
    this.#deps.health.setTargets(this.#remotes.flatMap((r) => {
      const ip = r.refused === undefined ? ownHealthCheckIp(r.endpoint.healthCheckIps, r.endpoint.subnets) : undefined;
      return ip === undefined ? [] : [{ key: r.endpoint.cableName, ip }];
    }));
    return statuses;
  }

  #nat: Awaited<ReturnType<GatewayRoleDeps['natDiscovery']>> | null = null;
  /** The cables NAT discovery was started for. */
  readonly #natKnown = new Set<string>();
  /** The cables whose health checks were unhealthy at the last pass (a re-probe is due when one turns so). */
  readonly #unhealthy = new Set<string>();

  /**
   * Each wanted cable's address as NAT discovery chose it (it never blocks: before any answer the
   * legacy choice stands, and a later answer moves the cable, through the component, to the better
   * address). Remotes no longer wanted are forgotten; a cable whose health checks fail is probed again.
   */
  #discovered(remotes: readonly AcceptedEndpoint[], wanted: ReturnType<typeof remoteCables>): ReturnType<typeof remoteCables> {
    const nat = this.#nat;
    if (nat === null) return wanted;
    const { metrics } = this.#deps;
    metrics.natSelection.reset();
    const cables = wanted.cables.map((cable) => {
      const accepted = remotes.find((r) => r.spec.cableName === cable.cableName);
      if (!accepted) return cable;
      this.#natKnown.add(cable.cableName);
      const view = nat.discover(natRemoteFromEndpoint(accepted.spec));
      // Probed again once when its health checks turn unhealthy, not on every pass while they stay so.
      const unhealthy = this.#deps.health.health(cable.cableName)?.verdict === 'unhealthy';
      if (unhealthy && !this.#unhealthy.has(cable.cableName)) nat.reprobe(cable.cableName);
      if (unhealthy) this.#unhealthy.add(cable.cableName);
      else this.#unhealthy.delete(cable.cableName);
      metrics.natSelection.set({ cable: cable.cableName, basis: view.basis, nat: String(view.useNat) }, 1);
      this.#usingNat.set(cable.cableName, view.useNat);
      return view.ip === '' ? cable : { ...cable, address: view.ip };
    });
    for (const name of [...this.#natKnown]) {
      if (cables.some((c) => c.cableName === name)) continue;
      nat.forget(name);
      this.#natKnown.delete(name);
      this.#usingNat.delete(name);
      this.#unhealthy.delete(name);
    }
    return { ...wanted, cables };
  }

  /** Whether discovery found NAT on the way to each cable's remote. */
  readonly #usingNat = new Map<string, boolean>();

  #remotes: Array<{ endpoint: EndpointSpec; usingIP: string; usingNAT: boolean; refused?: string }> = [];
  #cables: CableStatus[] = [];
  readonly #cableSince = new Map<string, { state: CableStatus['state']; since: number }>();

  /** The cables as last seen, and since when each has been in its state (unix ms): for `seaway status`. */
  get cables(): { statuses: readonly CableStatus[]; since: ReadonlyMap<string, number> } {
    return { statuses: this.#cables, since: new Map([...this.#cableSince].map(([name, seen]) => [name, seen.since])) };
  }

  #noteCables(statuses: CableStatus[]): void {
    const now = Date.now();
    for (const status of statuses) {
      if (this.#cableSince.get(status.cableName)?.state !== status.state) this.#cableSince.set(status.cableName, { state: status.state, since: now });
    }
    for (const name of this.#cableSince.keys()) if (!statuses.some((s) => s.cableName === name)) this.#cableSince.delete(name);
    this.#cables = statuses;
  }

  async #publishStatus(snapshot: Snapshot, haStatus: 'active' | 'passive', statuses: CableStatus[]): Promise<void> {
    const { settings, statusPublisher, statusWriter } = this.#deps;
    const local = this.#announced();
    if (local === null) return;
    const now = Date.now();
    const spec = validateEndpoint(local.spec, endpointValidationContext({
      localClusterId: settings.clusterId, podCidrs: settings.podCidrs, serviceCidrs: settings.serviceCidrs,
      minPrefixLength: DEFAULTS.minPrefixLength, maxSubnets: DEFAULTS.maxSubnetsPerEndpoint,
    }));
    if (!spec.ok) return;
    this.#traffic = observeTraffic(this.#traffic, statuses, now);
    const byName = new Map(statuses.map((s) => [s.cableName, s]));
    const render = gatewayObject({
      hostname: settings.nodeName, namespace: settings.namespace, haStatus, localEndpoint: spec.endpoint, version: settings.version,
      statusFailure: this.#refusal ?? '',
      remotes: haStatus === 'active' ? this.#remotes.map((r) => {
        const health = this.#deps.health.health(r.endpoint.cableName);
        return { ...r, ...(byName.has(r.endpoint.cableName) ? { cable: byName.get(r.endpoint.cableName) as CableStatus } : {}), ...(health ? { health } : {}) };
      }) : [],
      traffic: this.#traffic, nowMs: now,
    });
    if (!render.ok) {
      if (this.#said.mark('gateway-object', render.message) === 'new') this.#log.warn({ err: render.message }, 'the Gateway object cannot be written');
      return;
    }
    recordConnections(this.#deps.metrics, {
      cableDriver: settings.backend, cluster: settings.clusterId, hostname: settings.nodeName,
      endpointIp: render.object.status.localEndpoint.public_ip || render.object.status.localEndpoint.private_ip,
    }, render.object.status.connections.map((connection) => {
      const cable = byName.get(connection.endpoint.cable_name);
      const rtt = this.#deps.health.health(connection.endpoint.cable_name)?.rtt;
      return { connection, ...(cable ? { cable } : {}), ...(rtt ? { lastRttNs: rtt.lastNs } : {}) };
    }));
    const result = await statusPublisher.publish(render.object, now, this.#abort.signal);
    if (result.attempted && !result.result.ok) {
      const text = `${result.result.step}: ${result.result.problem.detail}`;
      if (this.#said.mark('gateway-write', text) === 'new') this.#log.warn({ err: text }, 'writing the Gateway object failed; retrying');
    } else if (result.attempted) {
      this.#said.clear('gateway-write');
    }
    // The active gateway removes the objects of nodes that are no longer candidates (Submariner's tools would list them).
    if (haStatus === 'active' && this.#monotonic() - this.#lastStaleSweep >= STALE_SWEEP_MS) {
      this.#lastStaleSweep = this.#monotonic();
      const live = snapshot.nodes.filter((n) => n.labels[settings.gatewayLabel.key] === settings.gatewayLabel.value).map((n) => n.name);
      const swept = await statusWriter.removeStale(live, now, 4 * SUBMARINER_STALE_MS, this.#abort.signal);
      if (swept.deleted.length > 0) this.#log.info({ deleted: swept.deleted }, 'stale Gateway objects removed');
    }
  }
}
