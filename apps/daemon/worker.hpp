#pragma once
// One background thread running jobs in the order they were queued. vppd uses one for the
// optimizer (a slow solve never blocks the event loop) and one for slow store reads (load
// profiles). Jobs hand their results back to the loop themselves (they post to it).
#include <condition_variable>
#include <cstdint>
#include <deque>
#include <functional>
#include <mutex>
#include <string>
#include <thread>

namespace vpp::daemon {

class Worker {
 public:
  explicit Worker(std::string name) : name_(std::move(name)), thread_([this] { run(); }) {}
  ~Worker() { stop(); }
  Worker(const Worker&) = delete;
  Worker& operator=(const Worker&) = delete;

  void post(std::function<void()> job) {
    {
      std::lock_guard lock(mu_);
      if (stopping_) return;
      jobs_.push_back(std::move(job));
    }
    cv_.notify_one();
  }

  // Finishes the job in progress, drops the queued ones, joins. Idempotent.
  void stop() {
    {
      std::lock_guard lock(mu_);
      stopping_ = true;
      jobs_.clear();
    }
    cv_.notify_one();
    if (thread_.joinable()) thread_.join();
  }

  std::size_t queued() const {
    std::lock_guard lock(mu_);
    return jobs_.size();
  }
  const std::string& name() const { return name_; }
  std::uint64_t failures() const {
    std::lock_guard lock(mu_);
    return failures_;
  }

 private:
  void run() {
    for (;;) {
      std::function<void()> job;
      {
        std::unique_lock lock(mu_);
        cv_.wait(lock, [&] { return stopping_ || !jobs_.empty(); });
        if (stopping_) return;
        job = std::move(jobs_.front());
        jobs_.pop_front();
      }
      // A job reports its own failures; one that throws must not take the daemon down.
      try {
        job();
      } catch (...) {
        std::lock_guard lock(mu_);
        ++failures_;
      }
    }
  }

  std::string name_;
  mutable std::mutex mu_;
  std::condition_variable cv_;
  std::deque<std::function<void()>> jobs_;
  bool stopping_ = false;
  std::uint64_t failures_ = 0;
  std::thread thread_;  // last: started after the members it uses
};

}  // namespace vpp::daemon
