import type { Client } from '@opensearch-project/opensearch';
// eslint-disable-next-line no-restricted-imports -- moved out by the registry step of the restructure
import { SEARCH_KEYWORD_FIELDS } from '../core/migrations/session-search-keywords.ts';
import type { SearchChange, SearchOutcome } from '../core/types.ts';

/** Keyword fields the 0.11 session-search migration adds (additive only). */
export const KEYWORD_FIELDS = Object.keys(SEARCH_KEYWORD_FIELDS);

/**
 * Sets the keyword fields unless the document comes from a newer version of the session
 * (ISO-8601 timestamps compare as strings) or already has them (noop: no reindex).
 */
const GUARDED_UPDATE = `
  def src = ctx._source;
  if (params.version != null && src.last_update instanceof String && src.last_update.compareTo(params.version) > 0) {
    ctx.op = 'noop'; return;
  }
  boolean same = true;
  for (def e : params.doc.entrySet()) { if (src[e.getKey()] != e.getValue()) { same = false; } }
  if (same) { ctx.op = 'noop'; return; }
  for (def e : params.doc.entrySet()) { src[e.getKey()] = e.getValue(); }
`;

export class MappingConflictError extends Error {
  constructor(
    readonly index: string,
    readonly field: string,
    readonly actualType: string,
  ) {
    super(
      `index "${index}": field "${field}" already exists with type "${actualType}", expected "keyword"; ` +
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

/** OpenSearch adapter: keyword mapping and partial updates of session documents. */
export class SearchIndex {
  constructor(
    private readonly client: Client,
    readonly index: string,
  ) {}

  /**
   * Adds the missing keyword fields to the mapping. Checks every field first, so a type
   * conflict on any of them writes nothing at all. Returns the fields it added.
   */
  async ensureKeywordMapping(fields: readonly string[] = KEYWORD_FIELDS): Promise<string[]> {
    const exists = await this.client.indices.exists({ index: this.index });
    if (!exists.body) throw new SearchIndexMissingError(this.index);
    const res = await this.client.indices.getMapping({ index: this.index });
    const body = res.body as Record<
      string,
      { mappings?: { properties?: Record<string, { type?: string }> } }
    >;
    const properties = Object.values(body)[0]?.mappings?.properties ?? {};
    const toAdd: string[] = [];
    for (const field of fields) {
      const existing = properties[field];
      if (!existing) toAdd.push(field);
      else if (existing.type !== 'keyword')
        throw new MappingConflictError(this.index, field, existing.type ?? 'object');
    }
    if (toAdd.length) {
      await this.client.indices.putMapping({
        index: this.index,
        body: { properties: Object.fromEntries(toAdd.map((f) => [f, { type: 'keyword' }])) },
      });
    }
    return toAdd;
  }

  /**
   * One bulk request of partial updates. No upsert: a document that does not exist yet stays
   * absent (`search-missing`) rather than becoming a partial document. A document indexed
   * from a newer `last_update` than the change's version is left as it is (`unchanged`).
   */
  async applyKeywords(changes: readonly SearchChange[], refresh = false): Promise<SearchResult[]> {
    if (!changes.length) return [];
    const body = changes.flatMap((c) => [
      { update: { _index: this.index, _id: c.id, retry_on_conflict: 3 } },
      {
        script: {
          source: GUARDED_UPDATE,
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

  /** Current `_source` of the given documents (only the keyword fields); absent ids are missing. */
  async getKeywordDocs(ids: readonly string[]): Promise<Map<string, Record<string, unknown>>> {
    const found = new Map<string, Record<string, unknown>>();
    if (!ids.length) return found;
    const res = await this.client.mget({
      index: this.index,
      body: { ids: [...ids] },
      _source_includes: KEYWORD_FIELDS,
    });
    const docs = (
      res.body as { docs: { _id: string; found?: boolean; _source?: Record<string, unknown> }[] }
    ).docs;
    for (const d of docs) if (d.found) found.set(d._id, d._source ?? {});
    return found;
  }
}
