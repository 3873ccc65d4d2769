#include "ui/auditdialog.h"

#include "core/engine/evaluation/audit.h"

#include <QDialogButtonBox>
#include <QDir>
#include <QFormLayout>
#include <QLabel>
#include <QListWidget>
#include <QPushButton>
#include <QSpinBox>
#include <QStyle>
#include <QVBoxLayout>

#include <algorithm>

namespace attnviz::ui {
namespace {

bool offeredByAny(engine::ViewMethod method, const std::vector<engine::Family>& families,
                  std::vector<engine::ViewMethod> (*offered)(engine::Family))
{
    return std::any_of(families.begin(), families.end(), [&](engine::Family family) {
        const auto methods = offered(family);
        return std::find(methods.begin(), methods.end(), method) != methods.end();
    });
}

QString whichModels(const engine::MethodInfo& info)
{
    switch (info.families) {
    case engine::MethodFamilies::ViT: return QObject::tr("the ViT");
    case engine::MethodFamilies::CNN: return QObject::tr("the CNN");
    case engine::MethodFamilies::Both: break;
    }
    return QObject::tr("both models");
}

}  // namespace

AuditDialog::AuditDialog(const QString& folder, const std::vector<engine::Family>& families, QWidget* parent)
    : QDialog(parent)
{
    setWindowTitle(tr("Audit methods"));
    auto* intro = new QLabel(tr("Score the maps of the checked methods against the object masks of %1, by their "
                                "effect on the model, and against copies of the models with randomised weights.")
                                 .arg(QDir(folder).dirName()),
                             this);
    intro->setWordWrap(true);

    m_methods = new QListWidget(this);
    m_methods->setObjectName(QStringLiteral("auditMethods"));
    const auto quick = quickMethods(families);
    for (const auto& info : engine::methodTable()) {
        if (!offeredByAny(info.method, families, engine::auditableMethods))
            continue;
        const QString name = QString::fromLatin1(info.name);
        auto* item = new QListWidgetItem(info.runsManyPasses() ? tr("%1 (many passes per image: slow)").arg(name)
                                                               : name,
                                         m_methods);
        item->setData(Qt::UserRole, int(info.method));
        item->setToolTip(tr("%1, on %2").arg(QString::fromUtf8(info.citation), whichModels(info)));
        const bool checked = std::find(quick.begin(), quick.end(), info.method) != quick.end();
        item->setCheckState(checked ? Qt::Checked : Qt::Unchecked);
    }
    // Every row in sight, its whole text: no scroll bars for some twenty short lines.
    const int frame = 2 * m_methods->frameWidth();
    m_methods->setMinimumWidth(m_methods->sizeHintForColumn(0) + frame
                               + m_methods->style()->pixelMetric(QStyle::PM_ScrollBarExtent));
    m_methods->setMinimumHeight(m_methods->count() * m_methods->sizeHintForRow(0) + frame);
    m_methods->setToolTip(tr("Methods with many passes of their own per image (one per channel, step, sample or "
                             "window) take minutes per image on a large model."));

    m_limit = new QSpinBox(this);
    m_limit->setObjectName(QStringLiteral("auditImages"));
    m_limit->setRange(1, 100000);
    m_limit->setValue(100);
    m_limit->setToolTip(tr("At most this many images, spread evenly over the folder."));
    auto* form = new QFormLayout;
    form->addRow(tr("Images, at most:"), m_limit);

    m_buttons = new QDialogButtonBox(QDialogButtonBox::Ok | QDialogButtonBox::Cancel, this);
    connect(m_buttons, &QDialogButtonBox::accepted, this, &QDialog::accept);
    connect(m_buttons, &QDialogButtonBox::rejected, this, &QDialog::reject);
    connect(m_methods, &QListWidget::itemChanged, this, &AuditDialog::updateOk);

    auto* layout = new QVBoxLayout(this);
    layout->addWidget(intro);
    layout->addWidget(m_methods);
    layout->addLayout(form);
    layout->addWidget(m_buttons);
    updateOk();
}

std::vector<engine::ViewMethod> AuditDialog::methods() const
{
    std::vector<engine::ViewMethod> out;
    for (int row = 0; row < m_methods->count(); ++row)
        if (const auto* item = m_methods->item(row); item->checkState() == Qt::Checked)
            out.push_back(engine::ViewMethod(item->data(Qt::UserRole).toInt()));
    return out;
}

std::size_t AuditDialog::imageLimit() const
{
    return std::size_t(m_limit->value());
}

std::vector<engine::ViewMethod> AuditDialog::quickMethods(const std::vector<engine::Family>& families)
{
    std::vector<engine::ViewMethod> out;
    for (const auto& info : engine::methodTable())
        if (offeredByAny(info.method, families, engine::quickAuditableMethods))
            out.push_back(info.method);
    return out;
}

void AuditDialog::updateOk()
{
    m_buttons->button(QDialogButtonBox::Ok)->setEnabled(!methods().empty());
}

}  // namespace attnviz::ui
