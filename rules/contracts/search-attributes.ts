/**
 * Custom search attributes of card orders, as operators filter them in Web UI. They are not encrypted by the
 * payload codec, so they carry identifiers and states only, never PII or card data.
 *
 * @module
 */
import { defineSearchAttributeKey, SearchAttributeType } from '@temporalio/common';

export const cardOrderStatusKey = defineSearchAttributeKey('CardOrderStatus', SearchAttributeType.KEYWORD);
export const productionStageKey = defineSearchAttributeKey('ProductionStage', SearchAttributeType.KEYWORD);
export const issuerIdKey = defineSearchAttributeKey('IssuerId', SearchAttributeType.KEYWORD);
export const cardIdKey = defineSearchAttributeKey('CardId', SearchAttributeType.KEYWORD);
export const issuerRequestIdKey = defineSearchAttributeKey('IssuerRequestId', SearchAttributeType.KEYWORD);
/** Set at start on RENEWAL and REPLACEMENT orders that name the card they replace. */
export const replacesCardIdKey = defineSearchAttributeKey('ReplacesCardId', SearchAttributeType.KEYWORD);

/** Set at start on the card orders of a bulk campaign, and on the campaign itself. */
export const campaignIdKey = defineSearchAttributeKey('CampaignId', SearchAttributeType.KEYWORD);

/** Every custom search attribute the Temporal namespace must have registered. */
export const cardOrderSearchAttributes = [
  cardOrderStatusKey,
  productionStageKey,
  issuerIdKey,
  cardIdKey,
  issuerRequestIdKey,
  replacesCardIdKey,
  campaignIdKey,
] as const;
