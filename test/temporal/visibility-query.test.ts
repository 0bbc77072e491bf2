import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { cardIdKey, issuerIdKey } from '../../rules/contracts/search-attributes.js';
import {
  allOf,
  fieldDiffers,
  fieldEquals,
  fieldIn,
  fieldIsNull,
  fieldNotIn,
  running,
  visibilityLiteral,
} from '../../temporal/visibility-query.js';

describe('visibility queries', () => {
  it('quotes every value as a literal, escaping quotes and backslashes', () => {
    assert.equal(visibilityLiteral(`a'b"c\\d`), `'a\\'b\\"c\\\\d'`);
    assert.equal(fieldEquals(issuerIdKey, "x' OR 'a' = 'a"), `IssuerId = 'x\\' OR \\'a\\' = \\'a'`);
  });

  it('writes each kind of clause on a built-in column or a search attribute', () => {
    assert.equal(fieldEquals('TaskQueue', 'q'), `TaskQueue = 'q'`);
    assert.equal(fieldDiffers('ExecutionStatus', 'Running'), `ExecutionStatus != 'Running'`);
    assert.equal(fieldIn(cardIdKey, ['c1', 'c2']), `CardId IN ('c1', 'c2')`);
    assert.equal(fieldNotIn('WorkflowType', ['a']), `WorkflowType NOT IN ('a')`);
    assert.equal(fieldIsNull('CloseTime'), 'CloseTime IS NULL');
    assert.equal(running, `ExecutionStatus = 'Running'`);
  });

  it('joins clauses with AND, leaving out the absent ones', () => {
    const cardId: string | undefined = undefined;
    assert.equal(
      allOf(running, cardId !== undefined && fieldEquals(cardIdKey, cardId), undefined, fieldEquals('TaskQueue', 'q')),
      `ExecutionStatus = 'Running' AND TaskQueue = 'q'`,
    );
  });
});
