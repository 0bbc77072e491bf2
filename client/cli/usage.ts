/**
 * The `card-orders` command line's help: every command, option and exit code. `--help` prints it, and so does a
 * usage error (without `--json`).
 *
 * @module
 */
import { cardOrderStatuses } from '../../rules/contracts/card-order.js';

export const usage = `Usage: card-orders <command> [options]

Commands:
  order --file <order.json>       place an order (prints its workflow id and status)
  status <issuerRequestId>        show an order's state
  list [--status <S>] [--replaces <cardId>] [--limit N]
                                  list the issuer's orders, newest first (--replaces: renewals and
                                  replacements of that card)
  cancel <issuerRequestId> [--request-id <id>]
                                  ask D1 to cancel an order; prints D1's verdict
  watch <issuerRequestId> [--until-closed]
                                  follow an order until it ends; a shipped order still listening for its
                                  carrier ends the watch with the line "delivery window open until <time>"
                                  (--until-closed: wait until the order's run closes, and print its final status)
  accelerate <issuerRequestId>    Pull & change: produce at once, express carrier; prints D1's verdict
  redirect <issuerRequestId> --address-file <address.json>
                                  Pull & change: send the card to a new address; prints D1's verdict
  accelerate-and-redirect <issuerRequestId> --address-file <address.json>
                                  both at once
  reship <issuerRequestId> --address-file <address.json>
                                  re-ship a returned card to a corrected address (programs that re-ship);
                                  prints RESHIPPED and the new D1 order's issuerRequestId
  unmatched list [--limit N]      the issuer's kept notifications for cards with no order of ours
  unmatched redeliver <cardId>    hand a card's kept notifications to its order, once it exists
  events failed [--card <cardId>] [--limit N]
                                  orders whose issuer events were not delivered when they closed (kept for
                                  an operator): per order, how many, the oldest, the last failure
  events redeliver <orderWorkflowId>
                                  post an order's undelivered issuer events again, in order; prints
                                  DELIVERED n, or REMAINING n and the failure (exit code 1)
  reconcile                       reconcile the open orders with D1 now (as RECONCILE_SCHEDULE does); waits
                                  and prints the counts and the orders whose D1 state disagreed
  campaign start --file <cards.csv|cards.jsonl> --id <campaignId> [--skip-invalid]
                                  check and store a campaign file (one line per stored page on stderr), start
                                  the campaign and print its status; the same file under the same id again
                                  changes nothing and prints where it stands (a FAILED campaign starts again;
                                  a COMPLETED or CANCELLED one is refused: CAMPAIGN_ALREADY_RAN)
  campaign status <campaignId>    a campaign's state, totals and its cards counted by the status they settled in
  campaign watch <campaignId> [--every <duration>]
                                  follow a campaign with a progress bar until it ends (COMPLETED, CANCELLED,
                                  FAILED), looking every 5s
  campaign pause|resume <campaignId>
                                  stop or restart the campaign's submissions; prints its state
  campaign cancel <campaignId> [--pull] [--wait]
                                  stop the campaign (--pull: and ask D1 to cancel its cards not yet shipped);
                                  prints CANCELLING (--wait: waits, and prints the state it ended in)
  campaign failures <campaignId>  every card of the campaign that failed, with its reason
  replay <dir>                    replay every workflow history (*.json, as \`temporal workflow show -o json\`) under
                                  <dir> against this code's workflows, offline, decoding payloads with the codec
                                  key ring (PAYLOAD_CODEC_KEYS[_FILE]); one FAIL line per history that diverges
                                  (file, event, reason), then \`replayed N histories: N passed, N failed\`

Options:
  --issuer <issuerId>   the issuer (default: D1_ISSUER_ID)
  --card <cardId>       (events failed) only that card's orders
  --status <S>          one of ${cardOrderStatuses.join(', ')}
  --request-id <id>     the cancel, change or re-ship request's id: a retry with the same id is the same request
  --address-file <f>    the new delivery address, as D1's address JSON
  --id <campaignId>     the campaign's id (campaign start): 1 to 48 letters, digits, _ and -
  --skip-invalid        (campaign start) start with the file's valid lines, leaving out the bad ones
  --pull                (campaign cancel) also ask D1 to cancel the campaign's cards not yet shipped
  --wait                (campaign cancel) wait until the campaign ended, and print its final state
  --until-closed        (watch) wait past the final status until the order's run closes
  --every <duration>    (campaign watch) how often to look (default 5s, at least 1s); each look costs the server
                        a describe and a query
  --json                machine-readable output
  -h, --help            this help

Exit codes: 0 done, 1 failed (the order failed, a cancel was refused, no such order: ORDER_NOT_FOUND, a redelivery
found no order: NO_ORDER, or no record: UNMATCHED_NOT_FOUND; issuer events still undelivered: REMAINING, or none
kept: ISSUER_EVENTS_NOT_FOUND; a watched campaign ended CANCELLED or FAILED, a campaign pause, resume or cancel was
refused, no such campaign: CAMPAIGN_NOT_FOUND; a history did not replay; no worker answered a read in time:
ERR_QUERY_UNANSWERED, ask again), 2 invalid input (ERR_ORDER_INVALID,
ERR_CONFIG_INVALID, a campaign file with bad lines: ERR_CAMPAIGN_FILE_INVALID, naming each line and field; replay: a
file that is not a history or that the key ring cannot decode: ERR_REPLAY_INPUT, naming each file, or an unreadable
key ring: ERR_CODEC_KEY) or a wrong call (ERR_USAGE), 3 the issuerRequestId is already used by a different order (ORDER_CONFLICT,
naming the fields that differ) or the campaign id by another file (CAMPAIGN_CONFLICT), or the campaign already
ran: it completed or was cancelled, or Temporal no longer knows it (CAMPAIGN_ALREADY_RAN; only a FAILED campaign
starts again).`;
