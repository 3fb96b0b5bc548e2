#include "host/batch_putter.h"

#include <poll.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <iostream>
#include <thread>

#include "sluice/base64.h"

namespace sluice::host {
namespace {

using nlohmann::json;

constexpr int kPutAttempts = 5;

bool HasInput(int fd) {
  pollfd poll_fd{fd, POLLIN, 0};
  return ::poll(&poll_fd, 1, 0) > 0;
}

}  // namespace

BatchPutApi KinesisPutRecords() {
  return {"PutRecords", "StreamName", "Records", 500, 5u << 20};
}

BatchPutApi FirehosePutRecordBatch() {
  return {"PutRecordBatch", "DeliveryStreamName", "RequestResponses", 500, 4u << 20};
}

Status BatchPutter::Add(size_t line, std::string partition_key, std::string data) {
  if (bytes_ + partition_key.size() + data.size() > api_.max_bytes) {
    SLUICE_RETURN_IF_ERROR(Flush());
  }
  bytes_ += partition_key.size() + data.size();
  batch_.push_back({line, std::move(partition_key), std::move(data)});
  if (batch_.size() >= api_.max_records || bytes_ >= api_.max_bytes) {
    return Flush();
  }
  return Status::Ok();
}

Status BatchPutter::Flush() {
  std::vector<Pending> pending = std::move(batch_);
  batch_.clear();
  bytes_ = 0;
  for (int attempt = 0; !pending.empty(); ++attempt) {
    if (attempt > 0) {
      std::this_thread::sleep_for(std::chrono::milliseconds(100 << attempt));
    }
    json records = json::array();
    for (const Pending& record : pending) {
      json entry = {{"Data", Base64Encode(record.data)}};
      if (!record.partition_key.empty()) {
        entry["PartitionKey"] = record.partition_key;
      }
      records.push_back(std::move(entry));
    }
    Result<json> reply =
        client_.Call(api_.operation, {{api_.name_member, name_}, {"Records", records}});
    if (!reply.ok()) {
      // Unsent calls may be retried; after an ambiguous failure (Unknown) a retry could store
      // records twice and giving up could lose them, so the caller decides.
      if (reply.status().code() == Code::kUnavailable && attempt + 1 < unreachable_attempts_) {
        continue;
      }
      if (reply.status().code() == Code::kUnavailable || reply.status().code() == Code::kUnknown) {
        return reply.status();
      }
      for (const Pending& record : pending) {
        std::cerr << "sluice " << verb_ << ": line " << record.line << ": "
                  << reply.status().message() << std::endl;
      }
      failed_ += pending.size();
      return Status::Ok();
    }
    std::vector<Pending> retry;
    const json& results = (*reply)[api_.results_member];
    for (size_t i = 0; i < pending.size(); ++i) {
      if (results[i].contains("ErrorCode")) {
        if (attempt + 1 < kPutAttempts) {
          retry.push_back(std::move(pending[i]));
        } else {
          std::cerr << "sluice " << verb_ << ": line " << pending[i].line << ": "
                    << results[i]["ErrorCode"].get<std::string>() << ": "
                    << results[i].value("ErrorMessage", std::string()) << std::endl;
          ++failed_;
        }
      } else {
        ++stored_;
      }
    }
    pending = std::move(retry);
  }
  return Status::Ok();
}

Status ForEachInputLine(int fd, const std::function<Status(size_t, std::string)>& on_line,
                        const std::function<Status()>& flush) {
  size_t line_number = 0;
  std::string buffer;
  char chunk[65536];
  while (true) {
    const ssize_t n = ::read(fd, chunk, sizeof(chunk));
    if (n < 0 && errno == EINTR) {
      continue;
    }
    if (n > 0) {
      buffer.append(chunk, static_cast<size_t>(n));
    } else if (!buffer.empty()) {
      buffer.push_back('\n');  // a last line without a newline
    }
    size_t start = 0;
    for (size_t end; (end = buffer.find('\n', start)) != std::string::npos; start = end + 1) {
      std::string line = buffer.substr(start, end - start);
      ++line_number;
      if (!line.empty() && line.back() == '\r') {
        line.pop_back();
      }
      if (!line.empty()) {
        SLUICE_RETURN_IF_ERROR(on_line(line_number, std::move(line)));
      }
    }
    buffer.erase(0, start);
    if (n <= 0 || !HasInput(fd)) {
      SLUICE_RETURN_IF_ERROR(flush());
    }
    if (n <= 0) {
      return Status::Ok();
    }
  }
}

}  // namespace sluice::host
