#pragma once

#include "core/engine/methods/methodtable.h"

#include <QWidget>

#include <vector>

class QLabel;

namespace attnviz::ui {

// The boxes of the method settings (engine::settingTable(): integrated gradients' steps and
// baseline, SmoothGrad's samples and noise, occlusion's window and stride), one per setting,
// made from the table: a list for a choice, a spin box for a number. Only the settings of
// the method shown are visible; each keeps its value while another method is shown.
class MethodSettingsBox : public QWidget {
    Q_OBJECT
public:
    explicit MethodSettingsBox(QWidget* parent = nullptr);

    // Shows the boxes of the settings `method` takes; whether it takes any.
    bool showFor(const engine::MethodInfo& method);
    // Every box's value (the caller keeps those its method takes: engine::settingsFor).
    engine::MethodSettings settings() const;
    void setSettings(const engine::MethodSettings& settings);  // emits nothing

signals:
    // A value was committed (Enter, an arrow, focus leaving): a view to compute again.
    void changed();

private:
    struct Editor {
        engine::MethodSetting setting;
        QLabel* label = nullptr;
        QWidget* box = nullptr;
    };
    QWidget* makeBox(const engine::SettingInfo& info);
    std::vector<Editor> m_editors;
    bool m_setting = false;  // setSettings at work: no changed()
};

}  // namespace attnviz::ui
