#pragma once

#include <condition_variable>
#include <deque>
#include <mutex>
#include <optional>
#include <utility>

namespace patchlens {

// A FIFO that hands work from one pipeline stage's threads to the next's: pop() waits for
// an item, and returns nothing once the queue is closed and empty, which ends the stage.
template <typename T>
class WorkQueue {
 public:
  void push(T item) {
    {
      const std::lock_guard lock(m_mutex);
      m_items.push_back(std::move(item));
    }
    m_ready.notify_one();
  }

  std::optional<T> pop() {
    std::unique_lock lock(m_mutex);
    m_ready.wait(lock, [this] { return !m_items.empty() || m_closed; });
    if (m_items.empty()) return std::nullopt;
    T item = std::move(m_items.front());
    m_items.pop_front();
    return item;
  }

  // No more pushes: waiting and later pop()s return nothing once the items are taken.
  void close() {
    {
      const std::lock_guard lock(m_mutex);
      m_closed = true;
    }
    m_ready.notify_all();
  }

 private:
  std::mutex m_mutex;
  std::condition_variable m_ready;
  std::deque<T> m_items;
  bool m_closed = false;
};

}  // namespace patchlens
