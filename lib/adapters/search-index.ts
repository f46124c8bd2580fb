// OpenSearch adapter: additive mapping updates and guarded partial updates of documents.
// It knows no migration rule: the fields, their mapping and the update script are handed in.
// It never creates an index, and sends no update before the index exists with every spec
// field mapped to its spec type (checked, and extended additively, once per instance).
import type { Client } from '@opensearch-project/opensearch';
import type { SearchChange, SearchOutcome } from '../core/types.ts';
import { versionMillis } from '../core/version.ts';

/** What the adapter writes, as declared by the migrations (see `searchSpecFor`). */
export interface SearchIndexSpec {
  /** The additive mapping: every field the updates write, with its type. */
  mapping: { properties: Readonly<Record<string, { type: string }>> };
  /**
   * Painless script of one partial update, given `params.doc` (fields to set), `params.remove`
   * (fields to remove) and `params.version` (epoch ms, or null); it sets `ctx.op = 'noop'` to
   * leave a document alone.
   */
  guard: string;
}

export class MappingConflictError extends Error {
  constructor(
    readonly index: string,
    readonly field: string,
    readonly actualType: string,
    readonly expectedType: string,
  ) {
    super(
      `index "${index}": field "${field}" already exists with type "${actualType}", expected "${expectedType}"; ` +
        'mappings cannot change a field type in place, so nothing was written',
    );
    this.name = 'MappingConflictError';
  }
}

export class SearchIndexMissingError extends Error {
  constructor(readonly index: string) {
    super(`OpenSearch index "${index}" does not exist`);
    this.name = 'SearchIndexMissingError';
  }
}

/**
 * The index cannot take keyword updates yet: it does not exist, or a spec field is missing
 * from its mapping or has another type (OpenSearch's dynamic mapping would type it `text`
 * for good). Nothing was sent; the caller fails the records so they are retried.
 */
export class SearchNotReadyError extends Error {
  constructor(
    readonly index: string,
    message: string,
    options?: { cause?: unknown },
  ) {
    super(`search index "${index}" is not ready for keyword updates: ${message}`, options);
    this.name = 'SearchNotReadyError';
  }
}

export function isSearchNotReadyError(e: unknown): e is SearchNotReadyError {
  return e instanceof Error && e.name === 'SearchNotReadyError';
}

/** A spec field whose mapping is not the spec's type (`absent` when it is not mapped). */
export interface MappingProblem {
  field: string;
  expected: string;
  actual: string;
}

export interface SearchResult {
  id: string;
  outcome: Exclude<SearchOutcome, 'unchanged'> | 'unchanged';
  error?: string;
}

interface BulkItem {
  update?: {
    _id: string;
    status: number;
    result?: string;
    error?: { type: string; reason: string };
  };
}

/**
 * One OpenSearch index, written only through `spec`: its mapping is extended additively and its
 * documents receive guarded partial updates of the spec's fields.
 *
 * @example
 * const spec = planner.searchSpecFor('orders')!; // the config's declared search
 * const index = new SearchIndex(client, spec.index, spec);
 * await index.ensureMapping();
 * await index.applyUpdates([{ id: 's1', doc: { source_keyword: 'user' }, version: '2025-…' }]);
 */
export class SearchIndex {
  /** The fields the spec writes (the mapping's properties). */
  readonly fields: readonly string[];
  private ready: Promise<void> | undefined;

  constructor(
    private readonly client: Client,
    readonly index: string,
    private readonly spec: SearchIndexSpec,
  ) {
    this.fields = Object.keys(spec.mapping.properties);
  }

  /**
   * Adds the spec's missing fields to the mapping. Checks every field first, so a type
   * conflict on any of them writes nothing at all. Returns the fields it added.
   */
  async ensureMapping(): Promise<string[]> {
    const wanted = this.spec.mapping.properties;
    const properties = await this.mappedProperties();
    const toAdd: string[] = [];
    for (const [field, { type }] of Object.entries(wanted)) {
      const existing = properties[field];
      if (!existing) toAdd.push(field);
      else if (existing.type !== type)
        throw new MappingConflictError(this.index, field, existing.type ?? 'object', type);
    }
    if (toAdd.length) {
      await this.client.indices.putMapping({
        index: this.index,
        // The client types each property by its `type` literal; the spec's types are plain strings.
        body: { properties: Object.fromEntries(toAdd.map((f) => [f, wanted[f]])) } as never,
      });
    }
    return toAdd;
  }

  /** The index's mapped properties; throws SearchIndexMissingError when there is no index. */
  private async mappedProperties(): Promise<Record<string, { type?: string }>> {
    const exists = await this.client.indices.exists({ index: this.index });
    if (!exists.body) throw new SearchIndexMissingError(this.index);
    const res = await this.client.indices.getMapping({ index: this.index });
    const body = res.body as Record<
      string,
      { mappings?: { properties?: Record<string, { type?: string }> } }
    >;
    return Object.values(body)[0]?.mappings?.properties ?? {};
  }

  /** The spec fields whose mapped type differs from the spec (read only; `verify` reports them). */
  async mappingProblems(): Promise<MappingProblem[]> {
    const properties = await this.mappedProperties();
    return Object.entries(this.spec.mapping.properties).flatMap(([field, { type }]) => {
      const actual = properties[field] ? (properties[field].type ?? 'object') : 'absent';
      return actual === type ? [] : [{ field, expected: type, actual }];
    });
  }

  /**
   * Throws SearchNotReadyError unless the index exists and maps every spec field to its type;
   * with `ensure` (the default) it first adds the missing fields (additive only). Once it has
   * succeeded it is not checked again by this instance (once per Lambda container); a failure
   * is checked again on the next call.
   */
  ensureReady(options: { ensure?: boolean } = {}): Promise<void> {
    this.ready ??= this.checkReady(options.ensure ?? true).catch((e: unknown) => {
      this.ready = undefined;
      throw e;
    });
    return this.ready;
  }

  private async checkReady(ensure: boolean): Promise<void> {
    try {
      if (ensure) await this.ensureMapping();
      const problems = await this.mappingProblems();
      if (problems.length) {
        throw new SearchNotReadyError(
          this.index,
          problems
            .map((p) => `field "${p.field}" is ${p.actual}, expected ${p.expected}`)
            .join('; ') +
            (ensure
              ? ''
              : ' (add the fields with `streamfill index` or let the consumer add them)'),
        );
      }
    } catch (e) {
      if (isSearchNotReadyError(e)) throw e;
      if (e instanceof SearchIndexMissingError)
        throw new SearchNotReadyError(
          this.index,
          'the index does not exist (check --search-index / STREAMFILL_SEARCH_INDEX; streamfill never creates it)',
          { cause: e },
        );
      if (e instanceof MappingConflictError)
        throw new SearchNotReadyError(this.index, e.message, { cause: e });
      throw e;
    }
  }

  /**
   * One bulk request of guarded partial updates, after `ensureReady` (the first call of an
   * instance checks, and extends, the mapping). No upsert: a document that does not exist
   * stays absent (`search-missing`) rather than becoming a partial document. A stale update
   * (see the spec's guard) is a no-op (`unchanged`).
   */
  async applyUpdates(changes: readonly SearchChange[], refresh = false): Promise<SearchResult[]> {
    if (!changes.length) return [];
    await this.ensureReady();
    // An update the guard cannot order is never sent (it would apply in arrival order).
    const unordered = changes.filter((c) => versionMillis(c.version) === undefined);
    if (unordered.length) {
      const ordered = changes.filter((c) => versionMillis(c.version) !== undefined);
      const sent = new Map(
        (await this.applyUpdates(ordered, refresh)).map((r, i) => [ordered[i], r]),
      );
      return changes.map(
        (c) =>
          sent.get(c) ?? {
            id: c.id,
            outcome: 'failed',
            error: `no version the guard can order (${JSON.stringify(c.version ?? null)}): not sent`,
          },
      );
    }
    const body = changes.flatMap((c) => [
      { update: { _index: this.index, _id: c.id, retry_on_conflict: 3 } },
      {
        script: {
          source: this.spec.guard,
          lang: 'painless',
          params: {
            doc: c.doc,
            remove: c.remove ?? [],
            version: versionMillis(c.version) as number,
            repair: c.repair === true,
          },
        },
      },
    ]);
    // `/<index>/_bulk`, not `/_bulk`: the functions' IAM grant covers the declared index only.
    const res = await this.client.bulk({
      index: this.index,
      body,
      refresh: refresh ? 'wait_for' : false,
    });
    const items = (res.body as { items: BulkItem[] }).items;
    return items.map((item, i): SearchResult => {
      const u = item.update;
      const id = (changes[i] as SearchChange).id;
      if (!u) return { id, outcome: 'failed', error: 'bulk response without an update item' };
      if (u.status === 404 && u.error?.type === 'document_missing_exception')
        return { id, outcome: 'search-missing' };
      if (u.error) return { id, outcome: 'failed', error: `${u.error.type}: ${u.error.reason}` };
      return { id, outcome: u.result === 'noop' ? 'unchanged' : 'migrated' };
    });
  }

  /** Current `_source` of the given documents (only the spec's fields); absent ids are missing. */
  async getDocs(ids: readonly string[]): Promise<Map<string, Record<string, unknown>>> {
    const found = new Map<string, Record<string, unknown>>();
    if (!ids.length) return found;
    const res = await this.client.mget({
      index: this.index,
      body: { ids: [...ids] },
      _source_includes: [...this.fields],
    });
    const docs = (
      res.body as { docs: { _id: string; found?: boolean; _source?: Record<string, unknown> }[] }
    ).docs;
    for (const d of docs) if (d.found) found.set(d._id, d._source ?? {});
    return found;
  }
}
