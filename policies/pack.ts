/**
 * The rules as CrossGuard stack policies. Kept apart from policies/index.ts because constructing a
 * PolicyPack starts the analyzer server; tests import this module and never construct one.
 */
import type { PolicyResource, StackValidationPolicy } from '@pulumi/policy';
import { fromPulumi, type ResourceRecord } from './model.js';
import { RULES, type Rule } from './rules.js';

export function toRecord(r: Pick<PolicyResource, 'type' | 'name' | 'props' | 'opts'>): ResourceRecord {
  return {
    type: r.type,
    name: r.name,
    props: r.props,
    additionalSecretOutputs: r.opts?.additionalSecretOutputs ?? [],
  };
}

export function stackPolicy(rule: Rule): StackValidationPolicy {
  return {
    name: rule.name,
    description: rule.description,
    enforcementLevel: 'mandatory',
    validateStack: (args, reportViolation) => {
      for (const violation of rule.check(fromPulumi(args.resources.map(toRecord))))
        reportViolation(violation);
    },
  };
}

export const POLICIES: StackValidationPolicy[] = RULES.map(stackPolicy);
