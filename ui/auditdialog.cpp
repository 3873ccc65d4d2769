#include "ui/auditdialog.h"

#include "core/engine/evaluation/audit.h"

#include <QCheckBox>
#include <QDialogButtonBox>
#include <QDir>
#include <QFormLayout>
#include <QLabel>
#include <QPushButton>
#include <QSpinBox>
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

    // A check box per method rather than a checkable list: a list item's check state is a
    // QVariant of Qt::CheckState, whose inline metatype code Qt 5's widgets (loaded here by
    // OpenCV's highgui) would bind to in a debug build.
    auto* methods = new QWidget(this);
    methods->setObjectName(QStringLiteral("auditMethods"));
    auto* column = new QVBoxLayout(methods);
    column->setContentsMargins(0, 0, 0, 0);
    column->setSpacing(2);
    const auto quick = quickMethods(families);
    for (const auto& info : engine::methodTable()) {
        if (!offeredByAny(info.method, families, engine::auditableMethods))
            continue;
        const QString name = QString::fromLatin1(info.name);
        auto* box = new QCheckBox(info.runsManyPasses() ? tr("%1 (many passes per image: slow)").arg(name) : name,
                                  methods);
        box->setObjectName(QStringLiteral("audit-") + name);
        box->setToolTip(tr("%1, on %2").arg(QString::fromUtf8(info.citation), whichModels(info)));
        box->setChecked(std::find(quick.begin(), quick.end(), info.method) != quick.end());
        connect(box, &QCheckBox::toggled, this, &AuditDialog::updateOk);
        column->addWidget(box);
        m_methods.emplace_back(info.method, box);
    }
    methods->setToolTip(tr("Methods with many passes of their own per image (one per channel, step, sample or "
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

    auto* layout = new QVBoxLayout(this);
    layout->addWidget(intro);
    layout->addWidget(methods);
    layout->addLayout(form);
    layout->addWidget(m_buttons);
    updateOk();
}

std::vector<engine::ViewMethod> AuditDialog::methods() const
{
    std::vector<engine::ViewMethod> out;
    for (const auto& [method, box] : m_methods)
        if (box->isChecked())
            out.push_back(method);
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
