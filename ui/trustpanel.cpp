#include "ui/trustpanel.h"

#include <QFileInfo>
#include <QHeaderView>
#include <QLabel>
#include <QTableWidget>
#include <QVBoxLayout>

namespace attnviz::ui {
namespace {

QString number(const std::optional<double>& value)
{
    return value ? QString::number(*value, 'f', 3) : QStringLiteral("—");
}

// The mask's path from where it parts from the image's: NAME.mask.png beside it, or
// masks/test/ring/00005.png in a benchmark.
QString maskName(const QString& maskPath, const QString& imagePath)
{
    const auto mask = QFileInfo(maskPath).absoluteFilePath().split(QLatin1Char('/'));
    const auto image = QFileInfo(imagePath).absoluteFilePath().split(QLatin1Char('/'));
    qsizetype common = 0;
    while (common + 1 < mask.size() && common < image.size() && mask[common] == image[common])
        ++common;
    return mask.mid(common).join(QLatin1Char('/'));
}

QString hitOrMiss(const std::optional<bool>& hit)
{
    if (!hit)
        return QStringLiteral("—");
    return *hit ? TrustPanel::tr("hit") : TrustPanel::tr("miss");
}

}  // namespace

TrustPanel::TrustPanel(QWidget* parent)
    : QWidget(parent)
{
    setObjectName(QStringLiteral("trustPanel"));
    auto* layout = new QVBoxLayout(this);
    m_title = new QLabel(this);
    m_title->setWordWrap(true);
    m_title->setTextInteractionFlags(Qt::TextSelectableByMouse);
    m_table = new QTableWidget(0, 7, this);
    m_table->setHorizontalHeaderLabels({tr("Model"), tr("Map"), tr("Pointing game"), tr("Energy in mask"),
                                        tr("Top-cells IoU"), tr("Deletion AUC\n(lower: faithful)"),
                                        tr("Insertion AUC\n(higher: faithful)")});
    m_table->setEditTriggers(QAbstractItemView::NoEditTriggers);
    m_table->verticalHeader()->hide();
    m_table->horizontalHeader()->setSectionResizeMode(QHeaderView::ResizeToContents);
    m_table->horizontalHeader()->setSectionResizeMode(1, QHeaderView::Stretch);
    m_legend = new QLabel(
        tr("Pointing game: the map's maximum lies on the object or within the tolerance of it (Zhang et al. 2016). "
           "Energy: the share of the map's positive mass on the object (Score-CAM). Top-cells IoU: the map's "
           "highest cells, as many as the object covers, against the object's cells. Deletion and insertion: the "
           "class probability as the most salient pixels are blurred away or revealed first (RISE). Whether a "
           "method's maps change at all when the model's weights are randomised is measured over many images: "
           "attnviz-cli audit."),
        this);
    m_legend->setWordWrap(true);
    layout->addWidget(m_title);
    layout->addWidget(m_table, 1);
    layout->addWidget(m_legend);
    showScores();
}

void TrustPanel::setAnalysis(const Analysis& analysis)
{
    m_maskPath = analysis.maskPath;
    m_imagePath = analysis.imagePath;
    m_maskProblem = analysis.maskProblem;
    m_plot.reset();
    showScores();
}

void TrustPanel::setScores(const std::shared_ptr<const FaithfulnessPlot>& plot, const QStringList& notes)
{
    m_plot = plot;
    m_notes = notes;
    showScores();
}

QString TrustPanel::title() const
{
    return m_title->text();
}

void TrustPanel::showScores()
{
    QString title;
    if (m_maskPath.isEmpty())
        title = tr("This image has no ground-truth mask, so only deletion and insertion are scored. Give it one as "
                   "NAME.mask.png beside NAME.png (non-zero on the object), or open a scene of a benchmark "
                   "(attnviz-cli benchmark make).");
    else if (!m_maskProblem.isEmpty())
        title = tr("The image's mask is not used: %1").arg(m_maskProblem);
    else
        title = tr("The maps on screen against the ground truth %1, outlined in white on both pictures.")
                    .arg(maskName(m_maskPath, m_imagePath));
    if (!m_plot)
        title += tr(" Scoring the maps on screen when this tab is shown…");
    for (const auto& note : m_notes)
        title += QLatin1Char(' ') + note + QLatin1Char('.');
    m_title->setText(title);

    m_table->setRowCount(0);
    if (!m_plot)
        return;
    for (const auto& side : m_plot->sides) {
        const int row = m_table->rowCount();
        m_table->insertRow(row);
        const auto& s = side.maskScores;
        const auto map = side.predictedClass.isEmpty()
                             ? side.caption
                             : tr("%1 · predicted class %2").arg(side.caption, side.predictedClass);
        const QString pointing = s.pointingHit
                                     ? tr("%1 (%2 px)").arg(hitOrMiss(s.pointingHit)).arg(side.tolerance, 0, 'f', 1)
                                     : number({});
        const QStringList cells{sideTitle(side.side),
                                map,
                                pointing,
                                number(s.energy),
                                number(s.iou),
                                number(side.scores.deletion.auc),
                                number(side.scores.insertion.auc)};
        for (int c = 0; c < cells.size(); ++c)
            m_table->setItem(row, c, new QTableWidgetItem(cells[c]));
    }
}

}  // namespace attnviz::ui
