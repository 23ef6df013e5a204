/**
 * The deployment's PKI with @pulumi/tls: a root CA (generated, or an existing one carried over from a
 * compose deployment so clients keep trusting it) and the nginx server certificate it signs.
 */
import * as pulumi from '@pulumi/pulumi';
import * as tls from '@pulumi/tls';
import { serverCertNames } from './topology.js';

export interface PkiArgs {
  domain: string;
  extraHostNames: string[];
  extraIps: string[];
  /** An existing CA to keep; its key must arrive as a Pulumi secret. */
  existingCa?: { keyPem: pulumi.Output<string>; certPem: string };
}

export interface Pki {
  caCertPem: pulumi.Output<string>;
  serverCertPem: pulumi.Output<string>;
  serverKeyPem: pulumi.Output<string>;
}

const TEN_YEARS = 10 * 365 * 24;
/** Browsers and Apple clients refuse server certificates valid for more than 825 days. */
const SERVER_VALIDITY = 825 * 24;

export function createPki(args: PkiArgs, parent: pulumi.Resource): Pki {
  let caKeyPem: pulumi.Output<string>;
  let caCertPem: pulumi.Output<string>;
  if (args.existingCa) {
    caKeyPem = pulumi.secret(args.existingCa.keyPem);
    caCertPem = pulumi.output(args.existingCa.certPem);
  } else {
    const caKey = new tls.PrivateKey('root-ca-key', { algorithm: 'ECDSA', ecdsaCurve: 'P256' }, { parent });
    caKeyPem = pulumi.secret(caKey.privateKeyPem);
    const caCert = new tls.SelfSignedCert(
      'root-ca',
      {
        privateKeyPem: caKeyPem,
        isCaCertificate: true,
        subject: { commonName: 'Coffer Root CA' },
        validityPeriodHours: TEN_YEARS,
        allowedUses: ['cert_signing', 'crl_signing'],
      },
      { parent },
    );
    caCertPem = caCert.certPem;
  }
  const serverKey = new tls.PrivateKey('server-key', { algorithm: 'ECDSA', ecdsaCurve: 'P256' }, { parent });
  const { dnsNames, ipAddresses } = serverCertNames(args.domain, args.extraHostNames, args.extraIps);
  const request = new tls.CertRequest(
    'server-csr',
    { privateKeyPem: serverKey.privateKeyPem, subject: { commonName: args.domain }, dnsNames, ipAddresses },
    { parent },
  );
  const serverCert = new tls.LocallySignedCert(
    'server-cert',
    {
      certRequestPem: request.certRequestPem,
      caPrivateKeyPem: caKeyPem,
      caCertPem,
      validityPeriodHours: SERVER_VALIDITY,
      // Re-issued by `pulumi up` during the last 30 days, well before clients start refusing it.
      earlyRenewalHours: 30 * 24,
      allowedUses: ['digital_signature', 'key_encipherment', 'server_auth'],
    },
    { parent },
  );
  return {
    caCertPem,
    serverCertPem: serverCert.certPem,
    serverKeyPem: pulumi.secret(serverKey.privateKeyPem),
  };
}
