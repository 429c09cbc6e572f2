#include <QtTest>
#include <atomic>
#include <numeric>
#include <thread>
#include <vector>

#include "core/io/work_queue.h"

using namespace patchlens;

// The queue between batch pipeline stages: order, closing, many producers and consumers.
class TestWorkQueue : public QObject {
  Q_OBJECT

 private slots:
  void firstInFirstOut();
  void closeEndsPopAfterTheRemainingItems();
  void closeWakesAWaitingConsumer();
  void everyItemReachesExactlyOneConsumer();
};

void TestWorkQueue::firstInFirstOut() {
  WorkQueue<int> q;
  q.push(3);
  q.push(1);
  q.push(2);
  QCOMPARE(q.pop().value(), 3);
  QCOMPARE(q.pop().value(), 1);
  QCOMPARE(q.pop().value(), 2);
}

void TestWorkQueue::closeEndsPopAfterTheRemainingItems() {
  WorkQueue<int> q;
  q.push(7);
  q.close();
  QCOMPARE(q.pop().value(), 7);
  QVERIFY(!q.pop().has_value());
  QVERIFY(!q.pop().has_value());
}

void TestWorkQueue::closeWakesAWaitingConsumer() {
  WorkQueue<int> q;
  std::atomic<bool> ended{false};
  std::thread consumer([&] {
    const auto item = q.pop();  // blocks: nothing pushed
    ended = !item.has_value();
  });
  std::this_thread::sleep_for(std::chrono::milliseconds(20));
  QVERIFY(!ended);
  q.close();
  consumer.join();
  QVERIFY(ended);
}

void TestWorkQueue::everyItemReachesExactlyOneConsumer() {
  // 3 producers x 1000 items, 4 consumers: the sum and count of what is taken is exact.
  WorkQueue<int> q;
  std::atomic<long long> sum{0};
  std::atomic<int> count{0};
  std::vector<std::thread> consumers;
  for (int c = 0; c < 4; ++c) {
    consumers.emplace_back([&] {
      while (const auto item = q.pop()) {
        sum += *item;
        ++count;
      }
    });
  }
  std::vector<std::thread> producers;
  for (int p = 0; p < 3; ++p) {
    producers.emplace_back([&q, p] {
      for (int i = 1; i <= 1000; ++i) q.push(p * 1000 + i);
    });
  }
  for (auto& t : producers) t.join();
  q.close();
  for (auto& t : consumers) t.join();
  QCOMPARE(count.load(), 3000);
  QCOMPARE(sum.load(), 3000LL * 3001 / 2);  // the items are exactly 1 .. 3000
}

QTEST_GUILESS_MAIN(TestWorkQueue)
#include "tst_work_queue.moc"
