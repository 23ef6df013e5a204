import { XMLBuilder, XMLParser } from 'fast-xml-parser';
import { S3Error } from '../errors/s3-errors.js';

const S3_NS = 'http://s3.amazonaws.com/doc/2006-03-01/';
const DECLARATION = '<?xml version="1.0" encoding="UTF-8"?>\n';

const builder = new XMLBuilder({
  ignoreAttributes: false,
  attributeNamePrefix: '@_',
  suppressEmptyNode: false,
  processEntities: true,
  format: false,
});

const parser = new XMLParser({
  ignoreAttributes: true,
  parseTagValue: false,
  trimValues: false,
  processEntities: true,
  // Go clients (rclone) escape quotes in ETags and keys as numeric references (&#34;).
  htmlEntities: true,
  isArray: (name) => name === 'Object',
});

/** A document body: arrays become repeated elements, undefined children are left out. */
export type XmlValue = string | number | boolean | undefined | XmlNode | XmlValue[];
export interface XmlNode {
  [name: string]: XmlValue;
}

export function toXml(root: string, body: XmlNode, namespaced = true): string {
  const node = namespaced ? { '@_xmlns': S3_NS, ...body } : body;
  return DECLARATION + builder.build({ [root]: node });
}

export function parseXml(text: string): Record<string, unknown> {
  if (!text.trim()) throw new S3Error('MalformedXML');
  try {
    return parser.parse(text, true) as Record<string, unknown>;
  } catch {
    throw new S3Error('MalformedXML');
  }
}

/** The content of a document whose one root element is `root`; anything else is MalformedXML. */
export function parseXmlRoot(text: string, root: string): unknown {
  const doc = parseXml(text);
  const elements = Object.keys(doc).filter((k) => !k.startsWith('?'));
  if (elements.length !== 1 || elements[0] !== root) throw new S3Error('MalformedXML');
  return doc[root];
}

export function isoDate(d: Date): string {
  return d.toISOString();
}
