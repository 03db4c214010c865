import type { ErrorObject, ValidateFunction } from 'ajv';
import { isRecord } from '@medledger/types';

/** Plain decimal digits; 16 of them reach past the largest safe integer, which is checked too. */
const DECIMAL = /^[0-9]{1,16}$/;

type Validator = ((data: unknown) => boolean) & { errors?: ErrorObject[] | null };

/**
 * Path and query values arrive as strings, and Ajv coerces them to integers the way JavaScript
 * reads numbers: `/blocks/0x10` was block 16, `1e3` 1000, and 23 nines 1e+23. This validator
 * first holds every `integer` property of a params or querystring schema to plain decimal digits
 * making a safe integer, then lets Ajv coerce and check the rest (minimum, maximum, ...). A value
 * refused here is refused as Ajv refuses one: 400 INVALID_REQUEST naming the parameter.
 */
export function decimalIntegers(schema: unknown, validate: ValidateFunction): Validator {
  const properties = isRecord(schema) && isRecord(schema.properties) ? schema.properties : {};
  const integers = Object.keys(properties).filter((k) => isRecord(properties[k]) && properties[k].type === 'integer');
  if (integers.length === 0) return validate;
  const check: Validator = (data) => {
    for (const name of integers) {
      const value = isRecord(data) ? data[name] : undefined;
      if (value === undefined) continue;
      if (typeof value !== 'string' || !DECIMAL.test(value) || !Number.isSafeInteger(Number(value))) {
        check.errors = [
          {
            instancePath: `/${name}`,
            schemaPath: `#/properties/${name}/type`,
            keyword: 'type',
            params: { type: 'integer' },
            message: 'must be a decimal integer',
          },
        ];
        return false;
      }
    }
    const ok = validate(data);
    check.errors = validate.errors;
    return ok;
  };
  return check;
}
