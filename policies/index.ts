/** `pulumi preview --policy-pack policies`: the Coffer rules, every one mandatory. */
import { PolicyPack } from '@pulumi/policy';
import { POLICIES } from './pack.js';

new PolicyPack('coffer', { policies: POLICIES });
