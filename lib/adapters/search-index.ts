// OpenSearch adapter: additive mapping updates and guarded partial updates of documents.
// It knows no migration rule: the fields, their mapping and the update script are handed in.
import type { Client } from '@opensearch-project/opensearch';
import type { SearchChange, SearchOutcome } from '../core/types.ts';

/** What the adapter writes, as declared by the migrations (see `searchSpecFor`). */
export interface SearchIndexSpec {
  /** The additive mapping: every field the updates write, with its type. */
  mapping: { properties: Readonly<Record<string, { type: string }>> };
  /**
   * Painless script of one partial update, given `params.doc` and `params.version`; it sets
   * `ctx.op = 'noop'` to leave a document alone.
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
 * const spec = searchSpecFor('session')!; // from the migration registry
 * const index = new SearchIndex(client, 'session', spec);
 * await index.ensureMapping();
 * await index.applyUpdates([{ id: 's1', doc: { source_keyword: 'user' }, version: '2025-…' }]);
 */
export class SearchIndex {
  /** The fields the spec writes (the mapping's properties). */
  readonly fields: readonly string[];

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
    const exists = await this.client.indices.exists({ index: this.index });
    if (!exists.body) throw new SearchIndexMissingError(this.index);
    const res = await this.client.indices.getMapping({ index: this.index });
    const body = res.body as Record<
      string,
      { mappings?: { properties?: Record<string, { type?: string }> } }
    >;
    const properties = Object.values(body)[0]?.mappings?.properties ?? {};
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

  /**
   * One bulk request of partial updates. No upsert: a document that does not exist yet stays
   * absent (`search-missing`) rather than becoming a partial document. A document indexed
   * from a newer `last_update` than the change's version is left as it is (`unchanged`).
   */
  async applyUpdates(changes: readonly SearchChange[], refresh = false): Promise<SearchResult[]> {
    if (!changes.length) return [];
    const body = changes.flatMap((c) => [
      { update: { _index: this.index, _id: c.id, retry_on_conflict: 3 } },
      {
        script: {
          source: this.spec.guard,
          lang: 'painless',
          params: { doc: c.doc, version: c.version ?? null },
        },
      },
    ]);
    const res = await this.client.bulk({ body, refresh: refresh ? 'wait_for' : false });
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
