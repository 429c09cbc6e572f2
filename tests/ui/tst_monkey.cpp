#include <QAbstractSpinBox>
#include <QCheckBox>
#include <QComboBox>
#include <QDir>
#include <QDockWidget>
#include <QElapsedTimer>
#include <QMenuBar>
#include <QMimeData>
#include <QPushButton>
#include <QRandomGenerator>
#include <QSlider>
#include <QSpinBox>
#include <QStandardPaths>
#include <QTabBar>
#include <QToolButton>
#include <QtTest>
#include <deque>
#include <functional>
#include <memory>
#include <vector>

#include "ui/main_window.h"
#include "ui/panels/model_panel.h"
#include "ui/panels/overlay_toolbar.h"
#include "ui/panels/patch_inspector.h"
#include "ui/session/session.h"
#include "ui/views/image_view.h"

using namespace patchlens;

namespace {

int envInt(const char* name, int fallback) {
  bool ok = false;
  const int value = qEnvironmentVariableIntValue(name, &ok);
  return ok ? value : fallback;
}

QStringList filesIn(const QString& folder, const QStringList& patterns) {
  QStringList files;
  const QDir dir(QStringLiteral(PATCHLENS_TEST_DATA "/") + folder);
  for (const QString& name : dir.entryList(patterns, QDir::Files, QDir::Name))
    files << dir.filePath(name);
  return files;
}

// The offscreen platform warns on every dock raise and popup; thousands of those would hit
// Qt Test's warning limit and hide the summary.
QtMessageHandler g_previousHandler = nullptr;
void filterPlatformNoise(QtMsgType type, const QMessageLogContext& context,
                         const QString& message) {
  if (type == QtWarningMsg && message.startsWith(QLatin1String("This plugin does not support")))
    return;
  g_previousHandler(type, context, message);
}

// How long the session may stay busy without interruption before the monkey calls it stuck.
// The sanitizer leg sets a longer bound (PATCHLENS_MONKEY_STUCK_MS in CMakePresets.json):
// under ASan a run of reloads and recomputes took 5-16 s to settle where the release build
// takes under 1 s, and one streak of superseding jobs passed 30 s. The bound is there to catch
// a session that never settles, not a slow build.
const int kStuckMs = envInt("PATCHLENS_MONKEY_STUCK_MS", 30000);

}  // namespace

// A fixed-seed random user: clicks, drags, wheel, keys and shortcuts, the overlay, channel,
// colormap, scale, opacity and model options through their widgets, good and hostile image
// and weight files through File > Open, Open Weights and drag and drop. After every event:
// the process is alive and the window's state is consistent.
class tst_Monkey : public QObject {
  Q_OBJECT

 private slots:
  void initTestCase();
  void randomUser();
  void cleanupTestCase();

 private:
  using Action = std::function<void()>;
  struct Weighted {
    const char* name;
    int weight;
    Action action;
  };

  int pick(int bound) { return static_cast<int>(m_random.bounded(bound)); }
  template <typename T>
  const T& pickFrom(const QList<T>& list) {
    return list[pick(static_cast<int>(list.size()))];
  }
  QPoint randomPointIn(const QWidget* widget) {
    return {pick(std::max(widget->width(), 1)), pick(std::max(widget->height(), 1))};
  }
  void log(const QString& line);
  void checkConsistent();
  bool waitUntilIdle(int timeoutMs);
  QList<QWidget*> clickableWidgets() const;

  // The actions.
  void clickImage();
  void dragImage();
  void hoverImage();
  void wheel();
  void keyOnImage();
  void shortcut();
  void overlayWidgets();
  void channelWidgets();
  void modelOptions();
  void clickRandomWidget();
  void openImageFile();
  void openWeightsFile();
  void dropFile();
  void restoreLayout();

  std::unique_ptr<MainWindow> m_window;
  Session* m_session = nullptr;
  ImageView* m_view = nullptr;
  QRandomGenerator m_random;
  QStringList m_goodImages;
  QStringList m_badImages;
  QStringList m_goodWeights;
  QStringList m_badWeights;
  std::deque<QString> m_recent;  // the last actions, printed when a check fails
  QElapsedTimer m_busySince;
  int m_step = 0;
  int m_loads = 0;
  int m_errors = 0;
  int m_results = 0;
};

void tst_Monkey::initTestCase() {
  g_previousHandler = qInstallMessageHandler(filterPlatformNoise);
  QStandardPaths::setTestModeEnabled(true);
  QCoreApplication::setOrganizationName(QStringLiteral("PatchLensTest"));
  QCoreApplication::setApplicationName(QStringLiteral("tst_monkey"));
  m_goodImages = QStringList{QStringLiteral(PATCHLENS_TEST_DATA "/chelsea.png"),
                             QStringLiteral(PATCHLENS_TEST_DATA "/coffee.png"),
                             QStringLiteral(PATCHLENS_TEST_DATA "/coffee_small.png")} +
                 filesIn(QStringLiteral("images"), {QStringLiteral("*")});
  m_badImages = filesIn(QStringLiteral("bad/images"), {QStringLiteral("*")});
  m_badImages.removeIf([](const QString& f) { return f.endsWith(QLatin1String(".tsv")); });
  m_badImages << QStringLiteral("/nonexistent/missing.png")
              << QStringLiteral(PATCHLENS_TEST_DATA "/images");
  m_goodWeights = filesIn(QStringLiteral("weights"),
                          {QStringLiteral("*.safetensors"), QStringLiteral("*.npz")});
  m_badWeights =
      filesIn(QStringLiteral("bad/weights"),
              {QStringLiteral("*.safetensors"), QStringLiteral("*.npy"), QStringLiteral("*.npz")});
  QVERIFY(m_goodImages.size() > 3);
  QVERIFY(m_badImages.size() > 30);
  QVERIFY(!m_goodWeights.isEmpty());
  QVERIFY(m_badWeights.size() > 30);

  const quint32 seed = static_cast<quint32>(envInt("PATCHLENS_MONKEY_SEED", 1));
  m_random.seed(seed);
  qInfo("seed %u (PATCHLENS_MONKEY_SEED), %d events (PATCHLENS_MONKEY_EVENTS)", seed,
        envInt("PATCHLENS_MONKEY_EVENTS", 20000));

  m_window = std::make_unique<MainWindow>(nullptr, MainWindow::SettingsMode::Ephemeral);
  m_window->resize(1280, 860);
  m_window->show();
  QVERIFY(QTest::qWaitForWindowExposed(m_window.get()));
  m_window->activateWindow();
  QVERIFY(QTest::qWaitForWindowActive(m_window.get()));
  m_session = m_window->session();
  m_view = m_window->imageView();
  connect(m_session, &Session::busyChanged, this, [this](bool busy) {
    if (busy)
      m_busySince.start();
    else
      m_busySince.invalidate();
  });
  connect(m_session, &Session::errorOccurred, this, [this] { ++m_errors; });
  connect(m_session, &Session::resultChanged, this, [this] { ++m_results; });
}

void tst_Monkey::cleanupTestCase() {
  m_window.reset();
}

void tst_Monkey::log(const QString& line) {
  m_recent.push_back(QStringLiteral("#%1 %2").arg(m_step).arg(line));
  if (m_recent.size() > 12) m_recent.pop_front();
}

bool tst_Monkey::waitUntilIdle(int timeoutMs) {
  return QTest::qWaitFor([this] { return !m_session->isBusy(); }, timeoutMs);
}

// What holds after any event, whatever the session is computing.
void tst_Monkey::checkConsistent() {
  const auto fail = [this](const QString& what) {
    QString history;
    for (const QString& line : m_recent) history += QStringLiteral("\n  ") + line;
    return QStringLiteral("%1 (step %2; last actions:%3)")
        .arg(what)
        .arg(m_step)
        .arg(history)
        .toLocal8Bit();
  };
  QVERIFY2(m_window->isVisible(), fail(QStringLiteral("the window is gone")).constData());
  QVERIFY2(!m_busySince.isValid() || m_busySince.elapsed() < kStuckMs,
           fail(QStringLiteral("busy for over %1 s").arg(kStuckMs / 1000)).constData());
  const auto& result = m_session->result();
  const auto selection = m_session->selection();
  if (!result) {
    QVERIFY2(!selection, fail(QStringLiteral("a selection without an image")).constData());
    QCOMPARE(m_window->inspector()->shownToken(), -1);
    return;
  }
  const GridSize grid = result->embedding.grid;
  const int dim = result->embedDim();
  QVERIFY2(grid.rows > 0 && grid.cols > 0 && dim > 0,
           fail(QStringLiteral("an empty result")).constData());
  QCOMPARE(result->embedding.tokens.rows(), Eigen::Index{grid.tokens()});
  QCOMPARE(dim, result->weights->embedDim);
  QCOMPARE(result->norms.size(), Eigen::Index{grid.tokens()});
  if (selection) {
    QVERIFY2(selection->row >= 0 && selection->row < grid.rows && selection->col >= 0 &&
                 selection->col < grid.cols,
             fail(QStringLiteral("selection (%1, %2) outside the %3x%4 grid")
                      .arg(selection->row)
                      .arg(selection->col)
                      .arg(grid.rows)
                      .arg(grid.cols))
                 .constData());
  }
  QVERIFY2(m_session->channel() >= 0 && m_session->channel() < dim,
           fail(QStringLiteral("channel %1 outside 0..%2").arg(m_session->channel()).arg(dim - 1))
               .constData());
  // The inspector shows the selected token's row of the embedding on screen.
  const int token = m_session->selectedToken();
  QVERIFY2(m_window->inspector()->shownToken() == token,
           fail(QStringLiteral("inspector shows token %1, selection is %2")
                    .arg(m_window->inspector()->shownToken())
                    .arg(token))
               .constData());
  if (token >= 0) {
    QCOMPARE(m_window->inspector()->shownVector().size(), Eigen::Index{dim});
    QVERIFY2(
        m_window->inspector()->shownVector() == result->embedding.tokens.row(token).transpose(),
        fail(QStringLiteral("inspector vector differs from the embedding row")).constData());
  }
  // The channel widgets follow the session.
  auto* toolbar = m_window->findChild<OverlayToolBar*>();
  QCOMPARE(toolbar->channelSpin()->value(), m_session->channel());
  QCOMPARE(toolbar->channelSpin()->maximum(), dim - 1);
  const OverlayMap& map = m_session->overlayMap();
  if (!map.empty()) {
    QVERIFY2(map.image.size() == QSize(grid.cols, grid.rows),
             fail(QStringLiteral("overlay image size")).constData());
    if (!map.isRgb) QCOMPARE(map.values.size(), Eigen::Index{grid.tokens()});
  }
  if (const auto hover = m_view->hovered()) {
    QVERIFY2(hover->row >= 0 && hover->row < grid.rows && hover->col >= 0 && hover->col < grid.cols,
             fail(QStringLiteral("hover outside the grid")).constData());
  }
}

QList<QWidget*> tst_Monkey::clickableWidgets() const {
  QList<QWidget*> widgets;
  for (QWidget* w : m_window->findChildren<QWidget*>()) {
    if (!w->isVisible() || w->width() <= 0 || w->height() <= 0) continue;
    if (w->isWindow()) continue;  // popups, floating docks: not part of the main window's surface
    // Modal dialogs would block the test: Open, Open Weights, the menus (About...).
    if (qobject_cast<QMenuBar*>(w)) continue;
    if (auto* button = qobject_cast<QToolButton*>(w); button && button->defaultAction()) {
      const QString text = button->defaultAction()->text();
      if (text.contains(QLatin1String("Open")) || text.contains(QLatin1String("Weights"))) continue;
    }
    if (w->objectName() == QLatin1String("openWeightsButton")) continue;
    // Combo popups are opened and closed by key presses elsewhere; model-panel spin boxes
    // are set to chosen values (their arrows walk to sizes that take seconds to compute).
    if (qobject_cast<QComboBox*>(w)) continue;
    if (qobject_cast<QAbstractSpinBox*>(w) && m_window->findChild<ModelPanel*>()->isAncestorOf(w))
      continue;
    widgets << w;
  }
  return widgets;
}

void tst_Monkey::clickImage() {
  QPoint at = randomPointIn(m_view);
  const auto& result = m_session->result();
  if (result && pick(2) == 0) {  // half the time right on a patch
    const GridSize grid = result->embedding.grid;
    at = m_view->patchCenter({pick(grid.rows), pick(grid.cols)}).toPoint();
  }
  const Qt::MouseButton button = pick(6) == 0 ? Qt::RightButton : Qt::LeftButton;
  log(QStringLiteral("click image (%1, %2) button %3").arg(at.x()).arg(at.y()).arg(button));
  QTest::mouseClick(m_view, button, {}, at);
}

void tst_Monkey::dragImage() {
  const QPoint from = randomPointIn(m_view);
  const QPoint to = randomPointIn(m_view);
  const Qt::MouseButton button = pick(2) == 0 ? Qt::MiddleButton : Qt::LeftButton;
  log(QStringLiteral("drag (%1, %2) -> (%3, %4)")
          .arg(from.x())
          .arg(from.y())
          .arg(to.x())
          .arg(to.y()));
  QTest::mousePress(m_view, button, {}, from);
  // A move with the button held (QTest::mouseMove goes through QCursor; send it directly).
  QMouseEvent move(QEvent::MouseMove, QPointF(to), m_view->mapToGlobal(QPointF(to)), Qt::NoButton,
                   button, Qt::NoModifier);
  QApplication::sendEvent(m_view, &move);
  QTest::mouseRelease(m_view, button, {}, to);
}

void tst_Monkey::hoverImage() {
  const QPointF at = randomPointIn(m_view);
  log(QStringLiteral("hover (%1, %2)").arg(at.x()).arg(at.y()));
  QMouseEvent move(QEvent::MouseMove, at, m_view->mapToGlobal(at), Qt::NoButton, Qt::NoButton,
                   Qt::NoModifier);
  QApplication::sendEvent(m_view, &move);
  if (pick(8) == 0) {
    QEvent leave(QEvent::Leave);
    QApplication::sendEvent(m_view, &leave);
  }
}

void tst_Monkey::wheel() {
  const QList<QWidget*> widgets = clickableWidgets();
  QWidget* target = pick(3) == 0 && !widgets.isEmpty() ? pickFrom(widgets) : m_view;
  const QPointF at = randomPointIn(target);
  const int delta = (pick(2) == 0 ? 1 : -1) * (pick(3) == 0 ? 360 : 120);
  log(QStringLiteral("wheel %1 on %2")
          .arg(delta)
          .arg(QString::fromLatin1(target->metaObject()->className())));
  QWheelEvent event(at, target->mapToGlobal(at), QPoint(), QPoint(0, delta), Qt::NoButton,
                    Qt::NoModifier, Qt::NoScrollPhase, false);
  QApplication::sendEvent(target, &event);
}

void tst_Monkey::keyOnImage() {
  static const QList<Qt::Key> keys{Qt::Key_Left,   Qt::Key_Right, Qt::Key_Up, Qt::Key_Down,
                                   Qt::Key_Escape, Qt::Key_Space, Qt::Key_A};
  const Qt::Key key = pickFrom(keys);
  log(QStringLiteral("key %1 on the image").arg(key));
  QTest::keyClick(m_view, key);
}

void tst_Monkey::shortcut() {
  // Window shortcuts that open no dialog: channel, zoom, grid, original, overlays, reload,
  // previous / next image in the folder.
  static const QList<QKeySequence> sequences{
      QKeySequence(Qt::Key_PageUp),        QKeySequence(Qt::Key_PageDown),
      QKeySequence(QKeySequence::ZoomIn),  QKeySequence(QKeySequence::ZoomOut),
      QKeySequence(Qt::CTRL | Qt::Key_0),  QKeySequence(Qt::CTRL | Qt::Key_G),
      QKeySequence(Qt::CTRL | Qt::Key_T),  QKeySequence(Qt::ALT | Qt::Key_0),
      QKeySequence(Qt::ALT | Qt::Key_1),   QKeySequence(Qt::ALT | Qt::Key_2),
      QKeySequence(Qt::ALT | Qt::Key_3),   QKeySequence(Qt::ALT | Qt::Key_4),
      QKeySequence(Qt::ALT | Qt::Key_5),   QKeySequence(Qt::ALT | Qt::Key_6),
      QKeySequence(QKeySequence::Refresh), QKeySequence(QKeySequence::Back),
      QKeySequence(QKeySequence::Forward), QKeySequence(Qt::CTRL | Qt::Key_Equal),
  };
  const QKeySequence sequence = pickFrom(sequences);
  log(QStringLiteral("shortcut %1").arg(sequence.toString()));
  QTest::keySequence(m_window.get(), sequence);
}

void tst_Monkey::overlayWidgets() {
  auto* toolbar = m_window->findChild<OverlayToolBar*>();
  switch (pick(5)) {
    case 0: {
      QComboBox* combo = toolbar->overlayCombo();
      const int index = pick(combo->count());
      log(QStringLiteral("overlay combo -> %1").arg(index));
      combo->setCurrentIndex(index);
      break;
    }
    case 1: {
      auto* combo = toolbar->findChild<QComboBox*>(QStringLiteral("colormapCombo"));
      const int index = pick(combo->count());
      log(QStringLiteral("colormap combo -> %1").arg(index));
      combo->setCurrentIndex(index);
      break;
    }
    case 2: {
      auto* combo = toolbar->findChild<QComboBox*>(QStringLiteral("scaleCombo"));
      const int index = pick(combo->count());
      log(QStringLiteral("scale combo -> %1").arg(index));
      combo->setCurrentIndex(index);
      break;
    }
    case 3: {
      auto* slider = toolbar->findChild<QSlider*>(QStringLiteral("opacitySlider"));
      const int value = pick(101);
      log(QStringLiteral("opacity -> %1").arg(value));
      slider->setValue(value);
      break;
    }
    default: {
      // Keyboard on a combo: the user's Up / Down without opening the popup.
      static const QStringList names{QStringLiteral("overlayCombo"),
                                     QStringLiteral("colormapCombo"), QStringLiteral("scaleCombo")};
      auto* combo = toolbar->findChild<QComboBox*>(pickFrom(names));
      const Qt::Key key = pick(2) == 0 ? Qt::Key_Up : Qt::Key_Down;
      log(QStringLiteral("key %1 on %2").arg(key).arg(combo->objectName()));
      QTest::keyClick(combo, key);
      break;
    }
  }
}

void tst_Monkey::channelWidgets() {
  auto* toolbar = m_window->findChild<OverlayToolBar*>();
  QSpinBox* spin = toolbar->channelSpin();
  auto* slider = toolbar->findChild<QSlider*>(QStringLiteral("channelSlider"));
  switch (pick(4)) {
    case 0: {
      const int value = pick(spin->maximum() + 3) - 1;  // out of range on purpose now and then
      log(QStringLiteral("channel spin -> %1").arg(value));
      spin->setValue(value);
      break;
    }
    case 1: {
      const int value = pick(slider->maximum() + 1);
      log(QStringLiteral("channel slider -> %1").arg(value));
      slider->setValue(value);
      break;
    }
    case 2: {
      const Qt::Key key = pick(2) == 0 ? Qt::Key_Up : Qt::Key_PageDown;
      log(QStringLiteral("key %1 on the channel spin").arg(key));
      QTest::keyClick(spin, key);
      break;
    }
    default: {
      const int value =
          pick(std::max(m_session->hasResult() ? m_session->result()->embedDim() : 1, 1));
      log(QStringLiteral("session channel -> %1 (inspector / matrix click)").arg(value));
      m_session->setChannel(value);
      break;
    }
  }
}

void tst_Monkey::modelOptions() {
  auto* panel = m_window->findChild<ModelPanel*>();
  const auto spin = [panel](const char* name) {
    return panel->findChild<QSpinBox*>(QLatin1String(name));
  };
  const auto combo = [panel](const char* name) {
    return panel->findChild<QComboBox*>(QLatin1String(name));
  };
  switch (pick(10)) {
    case 0: {
      QComboBox* weights = combo("weightsCombo");
      const int index = pick(weights->count());
      log(QStringLiteral("weights combo -> %1").arg(weights->itemData(index).toString()));
      weights->setCurrentIndex(index);
      break;
    }
    case 1: {
      const int value = pick(5);
      log(QStringLiteral("seed -> %1").arg(value));
      spin("seedSpin")->setValue(value);
      break;
    }
    case 2: {
      static const QList<int> sizes{32, 100, 160, 224, 256, 384};
      const int h = pickFrom(sizes);
      const int w = pick(3) == 0 ? pickFrom(sizes) : h;
      log(QStringLiteral("input size -> %1x%2").arg(h).arg(w));
      spin("heightSpin")->setValue(h);
      spin("widthSpin")->setValue(w);
      break;
    }
    case 3: {
      static const QList<int> sizes{4, 8, 14, 16, 32, 300};
      const int value = pickFrom(sizes);
      log(QStringLiteral("patch size -> %1").arg(value));
      spin("patchSizeSpin")->setValue(value);
      break;
    }
    case 4: {
      static const QList<int> dims{1, 16, 96, 192, 768, 1024};
      const int value = pickFrom(dims);
      log(QStringLiteral("embed dim -> %1").arg(value));
      spin("embedDimSpin")->setValue(value);
      break;
    }
    case 5:
    case 6: {
      static const QList<const char*> names{"resizeCombo", "interpolationCombo",
                                            "normalizationCombo", "remainderCombo"};
      QComboBox* box = combo(pickFrom(names));
      const int index = pick(box->count());
      log(QStringLiteral("%1 -> %2").arg(box->objectName()).arg(index));
      box->setCurrentIndex(index);
      break;
    }
    case 7: {
      auto* crop = panel->findChild<QDoubleSpinBox*>(QStringLiteral("cropPctSpin"));
      const double value = 0.5 + pick(11) * 0.05;
      log(QStringLiteral("crop pct -> %1").arg(value));
      crop->setValue(value);
      break;
    }
    case 8: {
      auto* fast = panel->findChild<QCheckBox*>(QStringLiteral("fastDecodeCheck"));
      log(QStringLiteral("fast decode toggled"));
      QTest::mouseClick(fast, Qt::LeftButton, {}, QPoint(8, fast->height() / 2));
      break;
    }
    default: {
      // Back to the defaults now and then, so that the walk does not drift to odd corners.
      log(QStringLiteral("defaults"));
      combo("weightsCombo")->setCurrentIndex(0);
      spin("heightSpin")->setValue(224);
      spin("widthSpin")->setValue(224);
      spin("patchSizeSpin")->setValue(16);
      spin("embedDimSpin")->setValue(768);
      break;
    }
  }
}

void tst_Monkey::clickRandomWidget() {
  const QList<QWidget*> widgets = clickableWidgets();
  if (widgets.isEmpty()) return;
  QWidget* target = pickFrom(widgets);
  const QPoint at = randomPointIn(target);
  log(QStringLiteral("click %1 \"%2\" at (%3, %4)")
          .arg(QString::fromLatin1(target->metaObject()->className()), target->objectName())
          .arg(at.x())
          .arg(at.y()));
  if (pick(5) == 0) {
    QTest::mouseDClick(target, Qt::LeftButton, {}, at);
  } else {
    QTest::mouseClick(target, Qt::LeftButton, {}, at);
  }
}

void tst_Monkey::openImageFile() {
  const bool bad = pick(3) == 0;
  const QString path = bad ? pickFrom(m_badImages) : pickFrom(m_goodImages);
  log(QStringLiteral("open image %1").arg(path));
  ++m_loads;
  m_window->openImage(path);  // what File > Open does with the chosen path
}

void tst_Monkey::openWeightsFile() {
  const bool bad = pick(2) == 0;
  const QString path = bad ? pickFrom(m_badWeights) : pickFrom(m_goodWeights);
  log(QStringLiteral("open weights %1").arg(path));
  ++m_loads;
  m_window->openWeights(path);  // what File > Open Weights does with the chosen path
}

void tst_Monkey::dropFile() {
  QList<QUrl> urls;
  const int count = 1 + (pick(4) == 0 ? 1 : 0);
  for (int i = 0; i < count; ++i) {
    const QStringList* lists[] = {&m_goodImages, &m_badImages, &m_goodWeights, &m_badWeights};
    urls << QUrl::fromLocalFile(pickFrom(*lists[pick(4)]));
  }
  QStringList names;
  for (const QUrl& url : urls) names << url.fileName();
  log(QStringLiteral("drop %1").arg(names.join(QStringLiteral(", "))));
  ++m_loads;
  QMimeData mime;
  mime.setUrls(urls);
  const QPoint pos = m_view->mapTo(m_window.get(), m_view->rect().center());
  QDragEnterEvent enter(pos, Qt::CopyAction, &mime, Qt::LeftButton, Qt::NoModifier);
  QApplication::sendEvent(m_window.get(), &enter);
  QDropEvent drop(QPointF(pos), Qt::CopyAction, &mime, Qt::LeftButton, Qt::NoModifier);
  QApplication::sendEvent(m_window.get(), &drop);
}

void tst_Monkey::restoreLayout() {
  log(QStringLiteral("restore docks"));
  for (QDockWidget* dock : m_window->findChildren<QDockWidget*>()) {
    dock->setFloating(false);
    dock->show();
  }
  m_window->raiseDock(pickFrom(QStringList{"inspector", "channel", "model", "matrix"}));
  m_window->activateWindow();
}

void tst_Monkey::randomUser() {
  const int events = envInt("PATCHLENS_MONKEY_EVENTS", 20000);
  const std::vector<Weighted> actions{
      {"clickImage", 16, [this] { clickImage(); }},
      {"dragImage", 3, [this] { dragImage(); }},
      {"hoverImage", 12, [this] { hoverImage(); }},
      {"wheel", 6, [this] { wheel(); }},
      {"keyOnImage", 14, [this] { keyOnImage(); }},
      {"shortcut", 10, [this] { shortcut(); }},
      {"overlayWidgets", 8, [this] { overlayWidgets(); }},
      {"channelWidgets", 8, [this] { channelWidgets(); }},
      {"modelOptions", 3, [this] { modelOptions(); }},
      {"clickRandomWidget", 14, [this] { clickRandomWidget(); }},
      {"openImageFile", 2, [this] { openImageFile(); }},
      {"openWeightsFile", 1, [this] { openWeightsFile(); }},
      {"dropFile", 1, [this] { dropFile(); }},
  };
  int total = 0;
  for (const auto& a : actions) total += a.weight;

  // Start from an image, as a user would.
  m_window->openImage(m_goodImages.first());
  QVERIFY(waitUntilIdle(30000));
  QVERIFY(m_session->hasResult());

  QElapsedTimer timer;
  timer.start();
  qint64 longestWaitMs = 0;
  for (m_step = 0; m_step < events; ++m_step) {
    int r = pick(total);
    const Weighted* chosen = &actions.front();
    for (const auto& a : actions) {
      if (r < a.weight) {
        chosen = &a;
        break;
      }
      r -= a.weight;
    }
    chosen->action();
    // Whatever popped up (a combo's list, a tooltip's menu) goes away like after Escape.
    if (QWidget* popup = QApplication::activePopupWidget()) popup->close();
    QCoreApplication::processEvents();
    checkConsistent();
    if (QTest::currentTestFailed()) return;
    if (m_step % 1000 == 999) restoreLayout();
    if (m_step % 5000 == 4999)
      qInfo("%d events, %.1f s", m_step + 1, static_cast<double>(timer.elapsed()) / 1000.0);
    // Now and then the user waits for the window to settle: it must, within a bound.
    if (m_step % 250 == 249) {
      QElapsedTimer wait;
      wait.start();
      QVERIFY2(waitUntilIdle(kStuckMs),
               qPrintable(
                   QStringLiteral("still busy after %1 ms at step %2").arg(kStuckMs).arg(m_step)));
      longestWaitMs = std::max(longestWaitMs, wait.elapsed());
      checkConsistent();
      if (QTest::currentTestFailed()) return;
      // Idle: the error banner and the session agree.
      if (!m_session->lastError().isEmpty()) {
        QString history;
        for (const QString& line : m_recent) history += QStringLiteral("\n  ") + line;
        QVERIFY2(!m_window->errorText().isEmpty(),
                 qPrintable(QStringLiteral("session error '%1' not in the banner (step %2; last "
                                           "actions:%3)")
                                .arg(m_session->lastError())
                                .arg(m_step)
                                .arg(history)));
        QVERIFY2(m_window->errorText().contains(m_session->lastError()),
                 qPrintable(m_window->errorText()));
      }
    }
  }
  QVERIFY(waitUntilIdle(kStuckMs));
  checkConsistent();
  qInfo(
      "%d events in %.1f s (%.2f ms each): %d loads requested, %d results shown, %d errors shown; "
      "longest settle %lld ms",
      events, static_cast<double>(timer.elapsed()) / 1000.0,
      static_cast<double>(timer.elapsed()) / std::max(events, 1), m_loads, m_results, m_errors,
      longestWaitMs);
}

QTEST_MAIN(tst_Monkey)
#include "tst_monkey.moc"
