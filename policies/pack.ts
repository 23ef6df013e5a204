/**
 * The rules as CrossGuard stack policies. Kept apart from policies/index.ts because constructing a
 * PolicyPack starts the analyzer server; tests import this module and never construct one.
 */
import type { PolicyResource, StackValidationPolicy } from '@pulumi/policy';
import { fromPulumi, type ResourceRecord } from './model.js';
import { DEFAULT_RULE_OPTIONS, RULES, type Rule, type RuleOptions } from './rules.js';

export function toRecord(r: Pick<PolicyResource, 'type' | 'name' | 'props' | 'opts'>): ResourceRecord {
  return {
    type: r.type,
    name: r.name,
    props: r.props,
    additionalSecretOutputs: r.opts?.additionalSecretOutputs ?? [],
  };
}

/** The site's requirements, set per policy in the pack's config (`pulumi policy enable --config`). */
const CONFIG_SCHEMA = {
  properties: {
    requireArchive: { type: 'boolean' as const, default: DEFAULT_RULE_OPTIONS.requireArchive },
    minRetentionDays: {
      type: 'integer' as const,
      minimum: 1,
      default: DEFAULT_RULE_OPTIONS.minRetentionDays,
    },
  },
};

export function stackPolicy(rule: Rule): StackValidationPolicy {
  return {
    name: rule.name,
    description: rule.description,
    enforcementLevel: 'mandatory',
    configSchema: CONFIG_SCHEMA,
    validateStack: (args, reportViolation) => {
      const options = { ...DEFAULT_RULE_OPTIONS, ...args.getConfig<Partial<RuleOptions>>() };
      for (const violation of rule.check(fromPulumi(args.resources.map(toRecord)), options))
        reportViolation(violation);
    },
  };
}

export const POLICIES: StackValidationPolicy[] = RULES.map(stackPolicy);
