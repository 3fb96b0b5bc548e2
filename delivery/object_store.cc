#include "delivery/object_store.h"

#include "delivery/directory_store.h"
#include "delivery/s3_store.h"

namespace sluice::delivery {

Result<std::unique_ptr<ObjectStore>> OpenObjectStore(const ObjectStoreConfig& config,
                                                     const std::string& region) {
  if (config.is_directory()) {
    return std::unique_ptr<ObjectStore>(std::make_unique<DirectoryStore>(config.directory()));
  }
  Result<S3Credentials> credentials = S3CredentialsFromEnvironment();
  if (!credentials.ok()) {
    return credentials.status().WithContext("S3 bucket " + config.bucket());
  }
  const std::string endpoint =
      config.endpoint_url.empty() ? "https://s3." + region + ".amazonaws.com" : config.endpoint_url;
  return std::unique_ptr<ObjectStore>(std::make_unique<S3Store>(
      endpoint, config.bucket(), S3RegionOfEndpoint(endpoint, region), std::move(*credentials)));
}

}  // namespace sluice::delivery
