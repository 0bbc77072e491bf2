/**
 * `npm run bench` flags. Sizes default to the full run; `--quick` shrinks every one of them so the whole
 * suite runs in a few minutes (a smoke test: it asserts nothing about speed).
 *
 * @module
 */
import { parseArgs } from 'node:util';

export interface BenchOptions {
  quick: boolean;
  /** Where to write the entries as JSON. */
  json: string | undefined;
  /** A Temporal frontend to use instead of a dev server started for the run. */
  temporalAddress: string | undefined;
  /** Run on the production engine (`npm run stack`'s Temporal server on PostgreSQL), started for the run. */
  stack: boolean;
  /** The Prometheus endpoint of the server given with --temporal-address (P6 reads its `action` counter). */
  temporalMetrics: string | undefined;
  namespace: string;
  /** Benchmark ids (P1...) or file name parts to run; empty: all. */
  only: string[];
  /** Exit 1 when a target is missed (never with --quick). */
  strict: boolean;
  /** P1: orders per arm. */
  orders: number;
  /** P1: the simulator's time between production steps, ms (the pace of the notifications). */
  stepMs: number;
  /** P1: operations per notification POST from the simulator (its batchSize), and its gathering window, ms. */
  notifyBatch: number;
  notifyWindowMs: number;
  /** P1, P4: orders (or bare workflows) started at once. */
  startConcurrency: number;
  /** P2: parked orders the notifications go to. */
  webhookOrders: number;
  /** P2: notifications per arm and round at saturation. */
  notifications: number;
  /** P2: requests (or signals) in flight at saturation. */
  webhookConcurrency: number;
  /** P3: D1 orders per arm and round. */
  d1Orders: number;
  /** P3: requests in flight (and keep-alive connections). */
  d1Concurrency: number;
  /** P4: orders parked waiting for production. */
  openOrders: number;
  /** P5: worker starts per arm. */
  starts: number;
  /** C1: cards in the campaign; undefined: C1 does not run (it runs only when `--campaign [N]` or `C1` is given). */
  campaign: number | undefined;
  /** C2: cards in the campaign at scale; undefined: C2 does not run (only with `--campaign-scale [N]` or `C2`). */
  campaignScale: number | undefined;
  /** C1: the campaign's CAMPAIGN_MAX_IN_FLIGHT (the worker caches 500 more workflows). */
  campaignInFlight: number;
  /** C1: D1_RATE_LIMIT_PER_SECOND for both arms (D1 throttles an issuer's calls); undefined: none. */
  campaignD1Rate: number | undefined;
}

const usage = `npm run bench -- [options] [P1 P2 ...]

  --quick                   small sizes, whole suite in a few minutes; asserts nothing about speed
  --json FILE               write the entries as a JSON array
  --temporal-address H:P    use this Temporal frontend (default: a dev server started for the run)
  --stack                   run on the production engine: npm run stack's Temporal server on PostgreSQL, started
                            for the run in its work folder (e.g. P4 --stack; P6 then counts no actions)
  --temporal-metrics URL    that server's Prometheus endpoint, for P6's actions (the dev server's is known)
  --namespace NS            (default: default)
  --orders N                P1 orders per arm (default 500; quick 30)
  --step-ms MS              P1 simulator step delay (default 20)
  --notify-batch N          P1 operations per simulator notification POST (default 1, as D1 sends them)
  --notify-window MS        P1 simulator batching window (default 0)
  --start-concurrency N     P1/P4 starts in flight (default 32)
  --webhook-orders N        P2 parked orders (default 300; quick 30)
  --notifications N         P2 notifications per arm and round (default 3000; quick 300)
  --webhook-concurrency N   P2 requests in flight (default 32)
  --d1-orders N             P3 orders per arm and round (default 2000; quick 200)
  --d1-concurrency N        P3 requests in flight (default 10, the D1_MAX_CONNECTIONS default)
  --open-orders N           P4 parked orders (default 10000; quick 200)
  --starts N                P5 worker starts per arm (default 3; quick 1)
  --campaign [N]            C1: a campaign of N cards (default 10000; quick 200): C1 only, or besides the
                            benchmarks named (C1 runs only with this flag or when named)
  --campaign-scale [N]      C2: a campaign of N cards (default 100000; quick 500) submitted through a worker kill,
                            and what watching it costs: C2 only, or besides the benchmarks named
  --campaign-in-flight N    C1: CAMPAIGN_MAX_IN_FLIGHT (default 1000); the worker caches N + 500 workflows
  --d1-rate N               C1: D1_RATE_LIMIT_PER_SECOND for both arms, as D1 throttling an issuer (default none)
  --strict                  exit 1 when a target is missed
`;

/** `--campaign` takes an optional N: given bare (last, or before another flag or a name), it means the default. */
function withCampaignValue(argv: string[]): string[] {
  return argv.map((arg, i) =>
    ['--campaign', '--campaign-scale'].includes(arg) && !/^\d+$/.test(argv[i + 1] ?? '') ? `${arg}=` : arg,
  );
}

export function parseBenchOptions(argv: string[]): BenchOptions {
  const { values, positionals } = parseArgs({
    args: withCampaignValue(argv),
    allowPositionals: true,
    options: {
      quick: { type: 'boolean', default: false },
      json: { type: 'string' },
      'temporal-address': { type: 'string' },
      'temporal-metrics': { type: 'string' },
      stack: { type: 'boolean', default: false },
      namespace: { type: 'string', default: 'default' },
      orders: { type: 'string' },
      'step-ms': { type: 'string' },
      'start-concurrency': { type: 'string' },
      'notify-batch': { type: 'string' },
      'notify-window': { type: 'string' },
      'webhook-orders': { type: 'string' },
      notifications: { type: 'string' },
      'webhook-concurrency': { type: 'string' },
      'd1-orders': { type: 'string' },
      'd1-concurrency': { type: 'string' },
      'open-orders': { type: 'string' },
      starts: { type: 'string' },
      campaign: { type: 'string' },
      'campaign-in-flight': { type: 'string' },
      'campaign-scale': { type: 'string' },
      'd1-rate': { type: 'string' },
      strict: { type: 'boolean', default: false },
      help: { type: 'boolean', short: 'h', default: false },
    },
  });
  if (values.help) {
    process.stdout.write(usage);
    process.exit(0);
  }
  const quick = values.quick;
  const int = (name: string, raw: string | undefined, full: number, small: number): number => {
    if (raw === undefined) return quick ? small : full;
    const n = Number(raw);
    if (!Number.isInteger(n) || n < 1) throw new Error(`--${name} must be a positive whole number`);
    return n;
  };
  const campaignNamed = positionals.some((p) => /^(c1|c1-campaign|campaign)$/i.test(p));
  const campaignRaw = values.campaign === '' ? undefined : values.campaign;
  const campaign =
    values.campaign !== undefined || campaignNamed ? int('campaign', campaignRaw, 10_000, 200) : undefined;
  const scaleNamed = positionals.some((p) => /^(c2|c2-campaign-scale)$/i.test(p));
  const scaleRaw = values['campaign-scale'] === '' ? undefined : values['campaign-scale'];
  const campaignScale =
    values['campaign-scale'] !== undefined || scaleNamed ? int('campaign-scale', scaleRaw, 100_000, 500) : undefined;
  const alone = [
    ...(campaign !== undefined && !campaignNamed ? ['C1'] : []),
    ...(campaignScale !== undefined && !scaleNamed ? ['C2'] : []),
  ];
  return {
    quick,
    json: values.json,
    temporalAddress: values['temporal-address'],
    temporalMetrics: values['temporal-metrics'],
    stack: values.stack,
    namespace: values.namespace,
    // `--campaign` alone runs the campaign only (a full suite takes half an hour); with names, C1 runs besides them.
    // `--campaign` and `--campaign-scale` alone run only their campaign; with names, besides them.
    only: alone.length > 0 ? [...positionals, ...alone] : positionals,
    strict: values.strict && !quick,
    orders: int('orders', values.orders, 500, 30),
    stepMs: int('step-ms', values['step-ms'], 20, 20),
    notifyBatch: int('notify-batch', values['notify-batch'], 1, 1),
    notifyWindowMs: values['notify-window'] === undefined ? 0 : int('notify-window', values['notify-window'], 0, 0),
    startConcurrency: int('start-concurrency', values['start-concurrency'], 32, 32),
    webhookOrders: int('webhook-orders', values['webhook-orders'], 300, 30),
    notifications: int('notifications', values.notifications, 3000, 300),
    webhookConcurrency: int('webhook-concurrency', values['webhook-concurrency'], 32, 32),
    d1Orders: int('d1-orders', values['d1-orders'], 2000, 200),
    d1Concurrency: int('d1-concurrency', values['d1-concurrency'], 10, 10),
    openOrders: int('open-orders', values['open-orders'], 10_000, 200),
    starts: int('starts', values.starts, 3, 1),
    campaign,
    campaignScale,
    campaignInFlight: int('campaign-in-flight', values['campaign-in-flight'], 1000, 1000),
    campaignD1Rate: values['d1-rate'] === undefined ? undefined : int('d1-rate', values['d1-rate'], 0, 0),
  };
}
