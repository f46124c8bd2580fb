// The backfill command's help after its flags: start order, filtering, runs, exit status.
import { DEFAULT_PRICES } from '../../../lib/core/cost-estimate.ts';

export const HELP_AFTER = `
Start order (docs/DESIGN.md, "Why it converges", point 1): the stream consumer must be running and caught
up before the first page is read. Locally (AWS_ENDPOINT_URL_DYNAMODB on localhost) backfill
reads the heartbeat \`streamfill run\` writes to the state table; on AWS the Lambda event
source mapping on the table's stream must be Enabled and its IteratorAge within
--max-lag-seconds. Enabled is not proof that the mapping reads, so then, locally and on AWS
alike, it writes a canary item (partition key streamfill:canary:v1, TTL 1 h, deleted once read)
and waits until the consumer has recorded reading that record in the state table (--no-canary
or STREAMFILL_CANARY=off skips it). Until then it waits and says why.

Filtering: the planner. Each scanned item is planned as the worker would, without lookups;
an item that needs no DynamoDB change (or is expired) is left out of the queue ("skipped …
settled"). An item that needs a change, needs a lookup, or is malformed is enqueued (the worker
reads the lookup, or parks the item with its reason). With a search migration in the scan
every item is enqueued (the scanner does not read the index). --no-filter enqueues every item.

Contract: --contract adds the opt-in contract steps to what is scanned for and carried
(their inputs projected); the worker runs a contract step only for messages that name it. Run
it once \`verify\` shows the expand phase done; \`verify --contract\` then shows the contract
phase.

Runs: checkpoints per segment after SQS accepted the page's messages. A new run refuses to
start over an unfinished one (--resume or --restart); a run idle longer than the stream's
24 h retention cannot be resumed. SIGINT stops after the current pages (exit 130).
--user and --keys are targeted repairs and keep no run. --dry-run reads, plans and estimates:
nothing is enqueued and no checkpoint is written; its samples look user_type up for real.
Every option and combination, the --keys file and the run state are checked before anything
is created or sent.

Continuity: the scan reads eventually consistently, so an item it leaves out as settled may
have a newer write it did not see: only the stream consumer covers that write. The filter is
therefore trusted only once a full pass without it finished that started after the stream
consumer began reading without a break (its heartbeat says since when); the first pass under a
consumer, the first after a stop longer than the stream's 24 h retention, and any pass without
a heartbeat run without the filter by themselves and say why. --keys and --distributed passes
enqueue every item.

Limits of a running scan: \`streamfill backfill set --rate N|unlimited --max-backlog N
--max-lag-seconds S [--by NAME]\` (through the state table); the progress line shows the change
and who made it, \`streamfill status\` the limits in force.

--distributed: the workers scan (--rate shared by the segments); this command follows their
checkpoints until the scan is done (--detach: return at once).

Exit status: 0 done; 1 refused or failed; 3 done, but items that could not be carried to the
worker (malformed, too large for a message) were parked in the DLQ with their reason;
130 interrupted (checkpoints saved).

Cost: on-demand prices default to ${DEFAULT_PRICES.source}:
$${DEFAULT_PRICES.readPerMillion} per million read units, $${DEFAULT_PRICES.writePerMillion} per million write units.

Examples:
  streamfill backfill --dry-run
  streamfill backfill --rate 500 --json backfill.json   # or --json alone: on stdout
  streamfill backfill --resume
  streamfill backfill pause      # keeps the position; \`backfill resume\` continues
  streamfill backfill set --rate 300 --by ana
`;
