#include "ui/pane/choicecombo.h"

#include <QStylePainter>

namespace attnviz::ui {

void ChoiceCombo::setShownText(std::optional<QString> text)
{
    if (text == m_shown)
        return;
    m_shown = std::move(text);
    update();
}

void ChoiceCombo::paintEvent(QPaintEvent* event)
{
    if (!m_shown) {
        QComboBox::paintEvent(event);
        return;
    }
    // As QComboBox paints itself, with the label's text replaced.
    QStylePainter painter(this);
    painter.setPen(palette().color(QPalette::Text));
    QStyleOptionComboBox option;
    initStyleOption(&option);
    option.currentText = *m_shown;
    option.currentIcon = QIcon();
    painter.drawComplexControl(QStyle::CC_ComboBox, option);
    painter.drawControl(QStyle::CE_ComboBoxLabel, option);
}

}  // namespace attnviz::ui
