#include "ui/tokenspanel.h"

#include "ui/imageconvert.h"

#include "core/imaging/colormap.h"
#include "core/io/atomicfile.h"

#include <QComboBox>
#include <QGridLayout>
#include <QHBoxLayout>
#include <QHeaderView>
#include <QLabel>
#include <QPainter>
#include <QPushButton>
#include <QTableWidget>
#include <QVBoxLayout>

#include <cmath>
#include <tuple>

namespace attnviz::ui {
namespace {

constexpr int kCell = 18;  // screen pixels per patch in the maps

// A map [h, w] scaled from [lo, hi] to [0, 1], coloured, one cell per patch.
QImage heatMap(const torch::Tensor& map, float lo, float hi)
{
    auto m = map.to(torch::kFloat32).contiguous();
    m = hi > lo ? ((m - lo) / (hi - lo)).clamp(0, 1).contiguous() : torch::zeros_like(m);
    const cv::Mat unit(int(m.size(0)), int(m.size(1)), CV_32FC1, m.data_ptr<float>());
    const auto coloured = imaging::applyColormap(unit, imaging::Colormap::Inferno);
    return toQImage(coloured).scaled(int(m.size(1)) * kCell, int(m.size(0)) * kCell, Qt::IgnoreAspectRatio,
                                     Qt::FastTransformation);
}

// ... over its own range.
QImage heatMap(const torch::Tensor& map)
{
    return heatMap(map, map.min().item<float>(), map.max().item<float>());
}

// A frame around each cell of `cells` (row-major indices of a grid `width` cells wide).
void outlineCells(QImage& image, const std::vector<int64_t>& cells, int64_t width)
{
    QPainter painter(&image);
    painter.setPen(QPen(QColor(0x00, 0xe0, 0xff), 2));
    for (const auto p : cells)
        painter.drawRect(int(p % width) * kCell + 1, int(p / width) * kCell + 1, kCell - 2, kCell - 2);
}

// Two maps on one scale, the range of both, each patch in `outlined` framed.
std::pair<QImage, QImage> heatMapPair(const torch::Tensor& a, const torch::Tensor& b,
                                      const std::vector<int64_t>& outlinedA, const std::vector<int64_t>& outlinedB)
{
    const float lo = std::min(a.min().item<float>(), b.min().item<float>());
    const float hi = std::max(a.max().item<float>(), b.max().item<float>());
    std::pair<QImage, QImage> out{heatMap(a, lo, hi), heatMap(b, lo, hi)};
    outlineCells(out.first, outlinedA, a.size(1));
    outlineCells(out.second, outlinedB, b.size(1));
    return out;
}

QString unitsText(const engine::RegisterNeurons& neurons)
{
    QStringList blocks;
    for (const auto& [block, units] : neurons.units) {
        QStringList list;
        for (const auto u : units)
            list << QString::number(u);
        blocks << QObject::tr("block %1: %2").arg(block).arg(list.join(QStringLiteral(", ")));
    }
    return blocks.join(QStringLiteral("; "));
}

// A table cell that sorts by its number (NaN shown as "–" and sorted first).
QTableWidgetItem* numberItem(double value, int decimals)
{
    auto* item = new QTableWidgetItem;
    if (std::isnan(value))
        item->setText(QStringLiteral("–"));
    else
        item->setData(Qt::DisplayRole, std::round(value * std::pow(10.0, decimals)) / std::pow(10.0, decimals));
    item->setFlags(item->flags() & ~Qt::ItemIsEditable);
    return item;
}

}  // namespace

TokensPanel::TokensPanel(QWidget* parent)
    : QWidget(parent)
{
    auto* layout = new QVBoxLayout(this);
    layout->setContentsMargins(4, 4, 4, 4);
    m_summary = new QLabel(tr("Token norms and the head table need a ViT."), this);
    m_summary->setWordWrap(true);
    layout->addWidget(m_summary);
    auto* row = new QHBoxLayout;
    auto* maps = new QVBoxLayout;
    m_block = new QComboBox(this);
    m_block->setObjectName(QStringLiteral("tokenBlock"));
    m_block->setToolTip(tr("The block whose output's token norms are shown"));
    maps->addWidget(m_block);
    m_normMap = new QLabel(this);
    m_normMap->setObjectName(QStringLiteral("tokenNormMap"));
    m_normMap->setToolTip(tr("‖token‖ of every patch after the block (inferno: low to high); outlined: above the "
                             "artifact threshold"));
    maps->addWidget(m_normMap);
    m_registers = new QLabel(this);
    m_registers->setToolTip(tr("Each register token's attention over the patches in this block, mean over the heads"));
    maps->addWidget(m_registers);
    maps->addWidget(makeRegisterBox());
    maps->addStretch(1);
    row->addLayout(maps);
    m_table = new QTableWidget(0, 6, this);
    m_table->setObjectName(QStringLiteral("headTable"));
    m_table->setHorizontalHeaderLabels({tr("block"), tr("head"), tr("distance (px)"), tr("entropy (nats)"),
                                        tr("CLS → artifacts"), tr("CLS → registers")});
    m_table->horizontalHeader()->setSectionResizeMode(QHeaderView::ResizeToContents);
    m_table->setSelectionBehavior(QAbstractItemView::SelectRows);
    m_table->setSelectionMode(QAbstractItemView::SingleSelection);
    m_table->setSortingEnabled(true);
    m_table->horizontalHeader()->setSortIndicator(0, Qt::AscendingOrder);  // block by block to start with
    m_table->verticalHeader()->hide();
    m_table->setToolTip(tr("Click a head to show its attention map in the ViT pane; click a column to sort"));
    row->addWidget(m_table, 1);
    layout->addLayout(row, 1);
    connect(m_block, &QComboBox::currentIndexChanged, this, &TokensPanel::showBlock);
    connect(m_table, &QTableWidget::cellClicked, this, [this](int row, int) {
        emit headChosen(m_table->item(row, 0)->data(Qt::DisplayRole).toInt(),
                        m_table->item(row, 1)->data(Qt::DisplayRole).toInt());
    });
}

QWidget* TokensPanel::makeRegisterBox()
{
    auto* box = new QWidget(this);
    auto* layout = new QVBoxLayout(box);
    layout->setContentsMargins(0, 6, 0, 0);
    m_registerButton = new QPushButton(tr("Test-time register"), box);
    m_registerButton->setObjectName(QStringLiteral("testTimeRegister"));
    m_registerButton->setCheckable(true);
    m_registerButton->setToolTip(tr("Find the MLP units that write the high-norm tokens on this image and move them "
                                    "to an extra token (Jiang et al., NeurIPS 2025): token norms and the CLS token's "
                                    "attention without and with it"));
    layout->addWidget(m_registerButton, 0, Qt::AlignLeft);
    m_registerText = new QLabel(box);
    m_registerText->setObjectName(QStringLiteral("registerSummary"));
    m_registerText->setWordWrap(true);
    layout->addWidget(m_registerText);
    m_registerMaps = new QWidget(box);
    auto* grid = new QGridLayout(m_registerMaps);
    grid->setContentsMargins(0, 0, 0, 0);
    grid->addWidget(new QLabel(tr("without"), m_registerMaps), 0, 1);
    grid->addWidget(new QLabel(tr("with the register"), m_registerMaps), 0, 2);
    grid->addWidget(new QLabel(tr("norms"), m_registerMaps), 1, 0);
    grid->addWidget(new QLabel(tr("CLS"), m_registerMaps), 2, 0);
    for (auto [label, name, row, column, tip] :
         {std::tuple{&m_normsWithout, "normsWithout", 1, 1, tr("‖token‖ after the block, without the register")},
          std::tuple{&m_normsWith, "normsWith", 1, 2,
                     tr("‖token‖ after the block, with the register (the scale of both)")},
          std::tuple{&m_clsWithout, "clsWithout", 2, 1,
                     tr("The CLS token's attention over the patches in the block, mean of the heads, without the "
                        "register")},
          std::tuple{&m_clsWith, "clsWith", 2, 2,
                     tr("The CLS token's attention over the patches in the block, mean of the heads, with the "
                        "register (the scale of both)")}}) {
        *label = new QLabel(m_registerMaps);
        (*label)->setObjectName(QString::fromLatin1(name));
        (*label)->setToolTip(tip);
        grid->addWidget(*label, row, column);
    }
    layout->addWidget(m_registerMaps);
    m_registerMaps->hide();
    connect(m_registerButton, &QPushButton::toggled, this, [this](bool down) {
        if (down)
            askForRegister();
        else {
            m_registerText->clear();
            m_registerMaps->hide();
        }
    });
    return box;
}

void TokensPanel::askForRegister()
{
    if (!m_pane || !m_study) {
        m_registerText->setText(tr("A test-time register needs a ViT."));
        return;
    }
    if (m_comparison)
        return;
    m_registerText->setText(tr("Finding the register neurons on this image…"));
    emit registerWanted(m_pane);
}

void TokensPanel::setRegisterComparison(const std::shared_ptr<const RegisterComparison>& comparison)
{
    if (!comparison || comparison->pane != m_pane)
        return;
    m_comparison = comparison;
    showRegister(m_block->currentIndex());
}

void TokensPanel::setRegisterProblem(const QString& message)
{
    m_registerText->setText(tr("No test-time register: %1").arg(message));
    m_registerMaps->hide();
}

QString TokensPanel::registerSummary() const
{
    return m_registerText->text();
}

void TokensPanel::showRegister(int block)
{
    if (!m_comparison || !m_registerButton->isChecked() || block < 0)
        return;
    const auto& c = *m_comparison;
    const auto& e = c.effect;
    const auto last = e.clsOnArtifactsWithout.size(0) - 1;
    std::size_t units = 0;
    for (const auto& [b, list] : c.search.chosen.units)
        units += list.size();
    QString text = tr("Register neurons (the %1 units up to block %2 most active at the artifacts): %3.")
                       .arg(units)
                       .arg(c.search.highestBlock)
                       .arg(unitsText(c.search.chosen));
    if (!std::isnan(e.clsOnArtifactsWithout[last].item<double>()))
        text += tr(" The CLS token's attention on the artifacts in the last block: %1 without, %2 with; on the "
                   "register %3.")
                    .arg(e.clsOnArtifactsWithout[last].item<double>(), 0, 'f', 3)
                    .arg(e.clsOnArtifactsWith[last].item<double>(), 0, 'f', 3)
                    .arg(e.clsOnRegister[last].item<double>(), 0, 'f', 3);
    text += tr(" Artifact norm %1 → %2, the register's %3.")
                .arg(e.artifactNormWithout, 0, 'g', 4)
                .arg(e.artifactNormWith, 0, 'g', 4)
                .arg(e.registerNorm, 0, 'g', 4);
    if (e.logitsWithout.defined())
        text += e.logitsWith.argmax().item<int64_t>() == e.logitsWithout.argmax().item<int64_t>()
                    ? tr(" The top class stays.")
                    : tr(" The top class changes.");
    m_registerText->setText(text);
    const auto& before = m_study->blocks[std::size_t(block)];
    const auto& after = c.with.blocks[std::size_t(block)];
    const auto norms = heatMapPair(before.patchNorms, after.patchNorms, before.flagged, after.flagged);
    m_normsWithout->setPixmap(QPixmap::fromImage(norms.first));
    m_normsWith->setPixmap(QPixmap::fromImage(norms.second));
    if (e.clsMapsWithout.defined()) {
        const auto cls = heatMapPair(e.clsMapsWithout[block], e.clsMapsWith[block], {}, {});
        m_clsWithout->setPixmap(QPixmap::fromImage(cls.first));
        m_clsWith->setPixmap(QPixmap::fromImage(cls.second));
    } else {
        m_clsWithout->clear();
        m_clsWith->clear();
    }
    m_registerMaps->show();
}

void TokensPanel::setPane(const std::shared_ptr<const PaneAnalysis>& vit)
{
    const bool samePane = vit == m_pane;
    m_pane = vit;
    if (!samePane) {
        m_comparison.reset();
        m_registerMaps->hide();
        m_registerText->clear();
    }
    m_study = vit ? vit->tokens : std::nullopt;
    m_rows = vit ? vit->heads : std::vector<engine::HeadStats>{};
    const int previous = m_block->currentIndex();
    {
        const QSignalBlocker blocker(m_block);
        m_block->clear();
        if (m_study)
            for (std::size_t b = 0; b < m_study->blocks.size(); ++b)
                m_block->addItem(tr("block %1").arg(b));
        // The last block by default: where Darcet et al. read the artifacts off.
        m_block->setCurrentIndex(previous >= 0 && previous < m_block->count() ? previous : m_block->count() - 1);
    }
    showBlock(m_block->currentIndex());
    fillTable();
    if (m_registerButton->isChecked() && !samePane)
        askForRegister();
}

QString TokensPanel::title() const
{
    return m_summary->text();
}

void TokensPanel::showBlock(int block)
{
    if (!m_study || block < 0) {
        m_summary->setText(tr("Token norms and the head table need a ViT."));
        m_normMap->clear();
        m_registers->clear();
        return;
    }
    const auto& b = m_study->blocks[std::size_t(block)];
    const auto& layout = m_study->layout;
    auto image = heatMap(b.patchNorms);
    outlineCells(image, b.flagged, layout.gridW);
    m_normMap->setPixmap(QPixmap::fromImage(image));
    QString text = tr("Block %1: token norms %2 (median) … %3; %4 above the threshold %5 "
                      "(modified z-score > %6, Iglewicz & Hoaglin).")
                       .arg(block)
                       .arg(b.median, 0, 'g', 4)
                       .arg(b.patchNorms.max().item<double>(), 0, 'g', 4)
                       .arg(b.flagged.size())
                       .arg(std::isinf(b.threshold) ? tr("(none: the norms do not vary)")
                                                    : QString::number(b.threshold, 'g', 4))
                       .arg(m_study->z);
    text += tr(" Artifact tokens (flagged after the last block): %1.").arg(m_study->artifacts.size());
    if (!layout.hasCls)
        text += tr(" The model has no CLS token: the CLS columns are empty.");
    m_summary->setText(text);
    if (m_study->registerAttention.defined()) {  // [L, H, R, h, w] -> per register, head mean
        const auto mean = m_study->registerAttention[block].mean(0);
        QImage strip(int(mean.size(0)) * (layout.gridW * kCell + 6), layout.gridH * kCell, QImage::Format_RGB32);
        strip.fill(Qt::white);
        QPainter p(&strip);
        for (int64_t r = 0; r < mean.size(0); ++r)
            p.drawImage(int(r) * (layout.gridW * kCell + 6), 0, heatMap(mean[r]));
        p.end();
        m_registers->setPixmap(QPixmap::fromImage(strip));
    } else {
        m_registers->clear();
    }
    showRegister(block);
}

void TokensPanel::fillTable()
{
    m_table->setSortingEnabled(false);  // rows are filled in order, then sorted by the user
    m_table->setRowCount(int(m_rows.size()));
    for (int i = 0; i < int(m_rows.size()); ++i) {
        const auto& r = m_rows[std::size_t(i)];
        m_table->setItem(i, 0, numberItem(r.layer, 0));
        m_table->setItem(i, 1, numberItem(r.head, 0));
        m_table->setItem(i, 2, numberItem(r.distance, 1));
        m_table->setItem(i, 3, numberItem(r.entropy, 3));
        m_table->setItem(i, 4, numberItem(r.clsOnArtifacts, 4));
        m_table->setItem(i, 5, numberItem(r.clsOnRegisters, 4));
    }
    m_table->setSortingEnabled(true);
}

void TokensPanel::exportCsv(const QString& path) const
{
    if (m_rows.empty())
        throw std::runtime_error("no head table to export: the analysis has no ViT");
    const auto text = engine::headTableCsv(m_rows);
    io::AtomicFile file(path.toStdString());
    file.write(text.data(), text.size());
    file.commit();
}

}  // namespace attnviz::ui
