// Every preflight rule: the level, the message and the action for each kind of fact.
import { PIKA_SEARCH_SPEC } from '../../support/pika.ts';
import { describe, expect, it } from 'vitest';
import {
  hasFailure,
  preflightFindings,
  type Finding,
  type PreflightFacts,
  type PreflightOptions,
} from '../../../lib/core/preflight.ts';

const ARN =
  'arn:aws:dynamodb:eu-west-1:111122223333:table/chat-session-prod/stream/2026-01-01T00:00:00.000';
const fn = (name: string) => `arn:aws:lambda:eu-west-1:111122223333:function:${name}`;

function facts(over: Partial<PreflightFacts> = {}): PreflightFacts {
  return {
    table: 'chat-session-prod',
    region: 'eu-west-1',
    stream: { enabled: true, viewType: 'NEW_AND_OLD_IMAGES', arn: ARN },
    capacity: { mode: 'PAY_PER_REQUEST', indexes: [] },
    replicas: [],
    pitr: { enabled: true },
    streamReaders: { mappings: [] },
    ...over,
  };
}

const KEYWORD_FIELDS = Object.keys(PIKA_SEARCH_SPEC.sources);

function finding(
  check: string,
  f: PreflightFacts,
  o: PreflightOptions = { rate: 100, keywordFields: KEYWORD_FIELDS },
): Finding {
  const found = preflightFindings(f, o).find((x) => x.check === check);
  if (!found) throw new Error(`no ${check} finding`);
  return found;
}

describe('a healthy on-demand table', () => {
  it('passes with only ok findings and no search check when search is off', () => {
    const all = preflightFindings(facts(), { rate: 100 });
    expect(all.map((f) => [f.check, f.level])).toEqual([
      ['stream', 'ok'],
      ['stream-readers', 'ok'],
      ['global-table', 'ok'],
      ['pitr', 'ok'],
      ['capacity', 'ok'],
    ]);
    expect(hasFailure(all)).toBe(false);
  });
});

describe('stream', () => {
  it('fails without a stream, with the command to enable NEW_AND_OLD_IMAGES', () => {
    const f = facts({ stream: { enabled: false }, streamReaders: undefined });
    const all = preflightFindings(f);
    expect(hasFailure(all)).toBe(true);
    expect(all.find((x) => x.check === 'stream-readers')).toBeUndefined();
    expect(finding('stream', f)).toEqual({
      level: 'fail',
      check: 'stream',
      message: 'table chat-session-prod has no stream: live changes cannot be migrated',
      action:
        'enable its stream with view type NEW_AND_OLD_IMAGES: `aws dynamodb update-table --table-name ' +
        'chat-session-prod --stream-specification StreamEnabled=true,StreamViewType=NEW_AND_OLD_IMAGES` ' +
        '(CDK: `stream: StreamViewType.NEW_AND_OLD_IMAGES`)',
    });
  });

  it.each(['KEYS_ONLY', 'NEW_IMAGE', 'OLD_IMAGE'])(
    'fails with view type %s: disable, then re-enable',
    (viewType) => {
      const f = finding('stream', facts({ stream: { enabled: true, viewType, arn: ARN } }));
      expect(f.level).toBe('fail');
      expect(f.message).toContain(
        `has view type ${viewType}; the consumer needs NEW_AND_OLD_IMAGES`,
      );
      expect(f.action).toContain(
        'a stream view type cannot be changed in place: disable the stream',
      );
      expect(f.action).toContain('StreamEnabled=false');
      expect(f.action).toContain('StreamViewType=NEW_AND_OLD_IMAGES');
      expect(f.action).toContain('new stream ARN');
    },
  );

  it('is ok with NEW_AND_OLD_IMAGES and names the stream', () => {
    expect(finding('stream', facts()).message).toBe(`stream on with NEW_AND_OLD_IMAGES (${ARN})`);
  });
});

describe('stream readers', () => {
  const readers = (...m: [string, string][]) =>
    facts({ streamReaders: { mappings: m.map(([n, state]) => ({ functionArn: fn(n), state })) } });

  it('is ok with none, and with one other (the consumer makes two)', () => {
    expect(finding('stream-readers', readers())).toMatchObject({
      level: 'ok',
      message: 'no other Lambda function reads the stream',
    });
    const one = finding('stream-readers', readers(['app-trigger', 'Enabled']));
    expect(one.level).toBe('ok');
    expect(one.message).toBe(
      `1 other Lambda function reads the stream: ${fn('app-trigger')}; with the consumer that makes 2, the most a shard serves without throttling`,
    );
    expect(one.action).toContain('readers outside Lambda');
  });

  it('warns at two: a third reader gets throttled', () => {
    const f = finding(
      'stream-readers',
      readers(['app-trigger', 'Enabled'], ['search-sync', 'Enabling']),
    );
    expect(f.level).toBe('warn');
    expect(f.message).toBe(
      `2 Lambda functions already read the stream: ${fn('app-trigger')}, ${fn('search-sync')}. ` +
        'A stream shard serves at most 2 concurrent readers, so the consumer would be one too many and ' +
        'the readers would be throttled (IteratorAge grows for all of them)',
    );
    expect(f.action).toContain('free a slot before deploying the consumer');
  });

  it('does not count disabled mappings, nor the streamfill consumer itself', () => {
    const f = readers(
      ['app-trigger', 'Enabled'],
      ['old', 'Disabled'],
      ['streamfill-consumer', 'Enabled'],
    );
    expect(finding('stream-readers', f, { consumerFunction: 'streamfill-consumer' })).toMatchObject(
      {
        level: 'ok',
        message: expect.stringContaining(
          '1 other Lambda function reads the stream (besides the streamfill consumer already deployed)',
        ),
      },
    );
    expect(finding('stream-readers', f).level).toBe('warn');
    expect(
      finding('stream-readers', f, { consumerFunction: fn('streamfill-consumer') }).level,
    ).toBe('ok');
  });

  it('warns, never fails, when the readers cannot be counted', () => {
    const f = finding(
      'stream-readers',
      facts({ streamReaders: { error: 'UnrecognizedClientException: bad token' } }),
    );
    expect(f).toMatchObject({
      level: 'warn',
      message: 'could not count stream readers: UnrecognizedClientException: bad token',
    });
    expect(f.action).toContain(`aws lambda list-event-source-mappings --event-source-arn ${ARN}`);
  });
});

describe('global table', () => {
  it('lists the replicas and says to run in one home Region, and why', () => {
    const f = finding(
      'global-table',
      facts({
        replicas: [{ region: 'us-east-1', status: 'ACTIVE' }, { region: 'ap-southeast-2' }],
      }),
    );
    expect(f.level).toBe('warn');
    expect(f.message).toBe(
      "chat-session-prod is a global table with replicas in us-east-1 (ACTIVE), ap-southeast-2: every Region's " +
        'stream carries every write, the replicated ones included',
    );
    expect(f.action).toContain(
      'run the consumer and the backfill in one home Region only (eu-west-1)',
    );
    expect(f.action).toContain('double work');
    expect(f.action).toContain('ping-pong');
  });
  it('is ok for a single-Region table', () => {
    expect(finding('global-table', facts()).level).toBe('ok');
  });
});

describe('point-in-time recovery', () => {
  it('warns when off, with the command to turn it on', () => {
    const f = finding('pitr', facts({ pitr: { enabled: false } }));
    expect(f.level).toBe('warn');
    expect(f.message).toBe('point-in-time recovery is off on chat-session-prod');
    expect(f.action).toContain(
      '`aws dynamodb update-continuous-backups --table-name chat-session-prod --point-in-time-recovery-specification PointInTimeRecoveryEnabled=true`',
    );
  });
  it('warns when it cannot be read', () => {
    expect(finding('pitr', facts({ pitr: { error: 'AccessDenied' } }))).toMatchObject({
      level: 'warn',
      message: 'could not read point-in-time recovery status: AccessDenied',
    });
  });
});

describe('capacity and write headroom', () => {
  const provisioned = (
    wcu: number,
    indexes: { name: string; writeCapacityUnits?: number }[] = [],
  ) =>
    facts({
      capacity: { mode: 'PROVISIONED', readCapacityUnits: 50, writeCapacityUnits: wcu, indexes },
    });

  it('on-demand: ok with --rate, warn without', () => {
    expect(finding('capacity', facts(), { rate: 200 })).toMatchObject({
      level: 'ok',
      message:
        "on-demand capacity: the backfill's writes are billed per request, --rate 200 caps them at 200 writes/s",
    });
    expect(finding('capacity', facts(), {}).level).toBe('warn');
  });

  it('on-demand with a maximum throughput: fails when --rate exceeds it', () => {
    const f = facts({
      capacity: { mode: 'PAY_PER_REQUEST', maxWriteRequestUnits: 100, indexes: [] },
    });
    expect(finding('capacity', f, { rate: 150 })).toMatchObject({
      level: 'fail',
      message: expect.stringContaining(
        'on-demand table capped at 100 write request units/s; --rate 150 exceeds it',
      ),
      action: expect.stringContaining('e.g. 50'),
    });
    expect(finding('capacity', f, { rate: 40 }).level).toBe('ok');
  });

  it('provisioned: states the headroom the rate leaves and the item-size assumption', () => {
    expect(finding('capacity', provisioned(400), { rate: 100 })).toMatchObject({
      level: 'ok',
      message:
        '--rate 100 writes/s against 400 provisioned WCU (table chat-session-prod) leaves 300 WCU (75 %) for ' +
        'the application (assuming items up to 1 KB: one write costs 1 WCU per started KB of the larger of ' +
        'the old and new item)',
    });
  });

  it('provisioned: warns above half the WCU, fails at or above all of it', () => {
    expect(finding('capacity', provisioned(100), { rate: 60 })).toMatchObject({
      level: 'warn',
      message: expect.stringContaining('leaves 40 WCU (40 %)'),
      action: expect.stringContaining('--rate 50'),
    });
    expect(finding('capacity', provisioned(100), { rate: 100 })).toMatchObject({
      level: 'fail',
      message: expect.stringContaining('leaves no write capacity for the application'),
      action: expect.stringContaining('--rate 50'),
    });
  });

  it('provisioned: the tightest GSI bounds the rate too', () => {
    const f = finding(
      'capacity',
      provisioned(400, [{ name: 'user-chat-app-index', writeCapacityUnits: 80 }]),
      {
        rate: 100,
      },
    );
    expect(f.level).toBe('fail');
    expect(f.message).toContain('against 80 provisioned WCU (index user-chat-app-index)');
  });

  it('provisioned without --rate: warns with a suggested rate', () => {
    expect(finding('capacity', provisioned(100), {})).toMatchObject({
      level: 'warn',
      action: expect.stringContaining('--rate 50'),
    });
  });
});

describe('search keyword mapping', () => {
  const search = (fieldTypes: Record<string, string | undefined>) =>
    facts({ search: { index: 'session', exists: true, fieldTypes } });

  it("checks the Pika preset's three keyword fields", () => {
    expect(KEYWORD_FIELDS).toEqual([
      'invocation_mode_keyword',
      'user_type_keyword',
      'source_keyword',
    ]);
  });

  it('is ok when they are keyword or absent', () => {
    expect(finding('search-mapping', search({ invocation_mode_keyword: 'keyword' }))).toEqual({
      level: 'ok',
      check: 'search-mapping',
      message:
        'index session: already keyword: invocation_mode_keyword; to be added as keyword: user_type_keyword, source_keyword',
      action: 'the backfill adds them first (additive mapping update)',
    });
  });

  it('fails when one exists with another type', () => {
    const f = finding(
      'search-mapping',
      search({ source_keyword: 'text', user_type_keyword: 'keyword' }),
    );
    expect(f.level).toBe('fail');
    expect(f.message).toBe(
      "index session: source_keyword is text, expected keyword; a mapping cannot change a field's type in place, so the search migration would write nothing",
    );
    expect(f.action).toContain('reindex session into a new index');
  });

  it('fails when the index does not exist; warns when it cannot be read', () => {
    expect(
      finding('search-mapping', facts({ search: { index: 'sessions', exists: false } })),
    ).toMatchObject({
      level: 'fail',
      message: 'OpenSearch index sessions does not exist',
    });
    expect(
      finding(
        'search-mapping',
        facts({ search: { index: 'session', error: 'ConnectionError: refused' } }),
      ),
    ).toMatchObject({
      level: 'warn',
      message: 'could not read the mapping of OpenSearch index session: ConnectionError: refused',
    });
  });
});
