#include "ui/pane/methodsettingsbox.h"

#include <QComboBox>
#include <QDoubleSpinBox>
#include <QHBoxLayout>
#include <QLabel>
#include <QSpinBox>

namespace attnviz::ui {

MethodSettingsBox::MethodSettingsBox(QWidget* parent)
    : QWidget(parent)
{
    auto* row = new QHBoxLayout(this);
    row->setContentsMargins(0, 0, 0, 0);
    for (const auto& info : engine::settingTable()) {
        auto* label = new QLabel(QString::fromLatin1(info.name), this);
        auto* box = makeBox(info);
        box->setObjectName(QStringLiteral("setting-") + QString::fromLatin1(info.name));
        box->setToolTip(QString::fromLatin1(info.meaning));
        box->setFocusPolicy(Qt::ClickFocus);  // arrow keys stay with the pane
        label->setBuddy(box);
        row->addWidget(label);
        row->addWidget(box, 1);
        m_editors.push_back({info.setting, label, box});
    }
}

QWidget* MethodSettingsBox::makeBox(const engine::SettingInfo& info)
{
    const auto commit = [this] {
        if (!m_setting)
            emit changed();
    };
    const auto fallback = engine::MethodSettings().value(info.setting);
    if (!info.choices.empty()) {
        auto* box = new QComboBox(this);
        for (const auto* choice : info.choices)
            box->addItem(QString::fromLatin1(choice));
        box->setCurrentIndex(int(fallback));
        connect(box, &QComboBox::currentIndexChanged, this, commit);
        return box;
    }
    if (info.integral) {
        auto* box = new QSpinBox(this);
        box->setRange(int(info.minimum), int(info.maximum));
        box->setValue(int(fallback));
        if (info.minimumMeans)
            box->setSpecialValueText(QString::fromLatin1(info.minimumMeans));
        box->setKeyboardTracking(false);  // a view per committed value, not per keystroke
        connect(box, &QSpinBox::valueChanged, this, commit);
        return box;
    }
    auto* box = new QDoubleSpinBox(this);
    box->setRange(info.minimum, info.maximum);
    box->setDecimals(2);
    box->setSingleStep(0.05);
    box->setValue(fallback);
    box->setKeyboardTracking(false);
    connect(box, &QDoubleSpinBox::valueChanged, this, commit);
    return box;
}

bool MethodSettingsBox::showFor(const engine::MethodInfo& method)
{
    for (const auto& e : m_editors) {
        e.label->setVisible(method.takes(e.setting));
        e.box->setVisible(method.takes(e.setting));
    }
    return method.settings != 0;
}

engine::MethodSettings MethodSettingsBox::settings() const
{
    engine::MethodSettings out;
    for (const auto& e : m_editors) {
        if (const auto* combo = qobject_cast<const QComboBox*>(e.box))
            out.set(e.setting, combo->currentIndex());
        else if (const auto* spin = qobject_cast<const QSpinBox*>(e.box))
            out.set(e.setting, spin->value());
        else
            out.set(e.setting, static_cast<const QDoubleSpinBox*>(e.box)->value());
    }
    return out;
}

void MethodSettingsBox::setSettings(const engine::MethodSettings& settings)
{
    m_setting = true;
    for (const auto& e : m_editors) {
        const double value = settings.value(e.setting);
        if (auto* combo = qobject_cast<QComboBox*>(e.box))
            combo->setCurrentIndex(int(value));
        else if (auto* spin = qobject_cast<QSpinBox*>(e.box))
            spin->setValue(int(value));
        else
            static_cast<QDoubleSpinBox*>(e.box)->setValue(value);
    }
    m_setting = false;
}

}  // namespace attnviz::ui
