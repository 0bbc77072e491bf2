/**
 * The issuer's programs as set up with Thales at onboarding, per card product: which delivery methods, card
 * carriers, packaging, inserts, shipment types and destination countries it allows. An order outside its program
 * is refused before anything reaches D1, with every offending field named.
 *
 * @module
 */
import { readFile } from 'node:fs/promises';
import { z } from 'zod';
import { ConfigError } from '../common/errors.js';
import { cardProductIdSchema, issuanceTypes, paymentApplicationSchema } from '../d1/schemas.js';
import type { CardOrder } from './schema.js';

const identifiers = z.array(z.string().min(1)).default([]);

/** What the order does when D1 reports its card returned (CARD_RETURNED). */
export const returnPolicySchema = z.strictObject({
  /** END: the order ends RETURNED. RESHIP: it waits (ORDER_RESHIP_WAIT) for the issuer's corrected address. */
  action: z.enum(['END', 'RESHIP']).default('END'),
  /** The most re-ships of one order. */
  maxReships: z.number().int().min(1).max(3).default(1),
});
export type ReturnPolicy = z.infer<typeof returnPolicySchema>;

export const programSchema = z.strictObject({
  description: z.string().optional(),
  issuanceTypes: z
    .array(z.enum(issuanceTypes))
    .min(1)
    .default([...issuanceTypes]),
  deliveryMethods: identifiers,
  cardCarriers: identifiers,
  packaging: identifiers,
  inserts: identifiers,
  shipmentTypes: z.array(z.enum(['INDIVIDUAL', 'BULK'])).min(1),
  destinationCountries: z.array(z.string().regex(/^[A-Z]{2}$/, 'must be ISO 3166-1 alpha-2 codes')).min(1),
  /**
   * EMV data model 1 key indexes of the product, set up at onboarding: what D1's batch API requires of every card
   * (an order may give its own).
   */
  paymentApplication: paymentApplicationSchema.optional(),
  /** Returned cards: end the order (the default) or re-ship to a corrected address. */
  returns: returnPolicySchema.default({ action: 'END', maxReships: 1 }),
});
export type Program = z.infer<typeof programSchema>;

export const programCatalogSchema = z.strictObject({
  programs: z.record(cardProductIdSchema, programSchema),
});
export type ProgramCatalog = z.infer<typeof programCatalogSchema>;

/** Reads and validates the catalog file. @throws {ConfigError} naming the file and each invalid entry. */
export async function loadProgramCatalog(file: string): Promise<ProgramCatalog> {
  let json: unknown;
  try {
    json = JSON.parse(await readFile(file, 'utf8'));
  } catch (err) {
    throw new ConfigError([{ key: file, reason: `cannot read the program catalog: ${(err as Error).message}` }]);
  }
  const parsed = programCatalogSchema.safeParse(json);
  if (!parsed.success) {
    throw new ConfigError(
      parsed.error.issues.map((issue) => ({ key: `${file}#${issue.path.join('.')}`, reason: issue.message })),
    );
  }
  return parsed.data;
}

export interface CatalogIssue {
  field: string;
  reason: string;
}

/** Every way `order` leaves its program; empty when it fits. */
export function checkOrderAgainstCatalog(
  order: Pick<CardOrder, 'cardProductId' | 'services' | 'shipment' | 'packagingConfig'>,
  catalog: ProgramCatalog,
): CatalogIssue[] {
  const program = catalog.programs[order.cardProductId];
  if (!program) return [{ field: 'cardProductId', reason: 'is not a program of this issuer' }];
  const issues: CatalogIssue[] = [];
  const allowed = (field: string, value: string | undefined, list: readonly string[], what: string) => {
    if (value !== undefined && !list.includes(value)) {
      issues.push({ field, reason: `${what} ${value} is not allowed for ${order.cardProductId}` });
    }
  };
  allowed('services.issuance', order.services.issuance, program.issuanceTypes, 'issuance type');
  allowed('services.delivery', order.services.delivery, program.deliveryMethods, 'delivery method');
  allowed('services.cardCarrier', order.services.cardCarrier, program.cardCarriers, 'card carrier');
  allowed('services.packaging', order.services.packaging, program.packaging, 'packaging');
  order.packagingConfig?.inserts?.forEach((insert, i) =>
    allowed(`packagingConfig.inserts.${i}`, insert, program.inserts, 'insert'),
  );
  allowed('shipment.type', order.shipment.type, program.shipmentTypes, 'shipment type');
  const countries = program.destinationCountries;
  allowed('shipment.deliveryAddress.countryCode', order.shipment.deliveryAddress.countryCode, countries, 'country');
  return issues;
}
