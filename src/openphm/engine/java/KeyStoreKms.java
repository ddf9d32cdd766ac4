// OpenPHM's KMS client for Spark's Parquet modular encryption (parquet-mr key tools).
//
// Master keys come from the OpenPHM key store: openphm.engine.spark puts each data key into
// the job's Hadoop configuration as "openphm.kms.key.<key name>" (base64) and nothing else
// holds them. Data keys of each Parquet file are wrapped locally with AES-GCM by
// LocalWrapKmsClient; openphm.engine.parquet wraps them the same way from Python, so Spark and
// pyarrow read each other's files. When the key store has destroyed a key it is not given
// here, and files under that key cannot be opened.
package org.openphm.kms;

import java.util.Base64;
import org.apache.parquet.crypto.KeyAccessDeniedException;
import org.apache.parquet.crypto.keytools.LocalWrapKmsClient;

public class KeyStoreKms extends LocalWrapKmsClient {
  public static final String PREFIX = "openphm.kms.key.";

  @Override
  protected void initializeInternal() {}

  @Override
  protected byte[] getMasterKeyFromServer(String name) throws KeyAccessDeniedException {
    String encoded = hadoopConfiguration.get(PREFIX + name);
    if (encoded == null || encoded.isEmpty()) {
      throw new KeyAccessDeniedException(
          "OpenPHM data key '" + name + "' was not given to this Spark session "
              + "(destroyed, or the zone was opened without it)");
    }
    return Base64.getDecoder().decode(encoded);
  }
}
