#pragma once

#include <QComboBox>

#include <optional>

namespace attnviz::ui {

// A combo box that can show another text than its current item's while keeping the
// item chosen: a greyed Layer box shows "from 0" for a rollout, and the block chosen
// comes back when the method uses it again.
class ChoiceCombo : public QComboBox {
    Q_OBJECT
public:
    using QComboBox::QComboBox;

    // None: the current item's text, as any combo box.
    void setShownText(std::optional<QString> text);
    // What the box shows on screen.
    QString shownText() const { return m_shown.value_or(currentText()); }

protected:
    void paintEvent(QPaintEvent* event) override;

private:
    std::optional<QString> m_shown;
};

}  // namespace attnviz::ui
