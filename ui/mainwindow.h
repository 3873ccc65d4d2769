#pragma once

#include <QMainWindow>

namespace attnviz::ui {

// The application window. For now it only tells what the program is; the model
// panes arrive with the desktop-application issue.
class MainWindow : public QMainWindow {
    Q_OBJECT
public:
    explicit MainWindow(QWidget* parent = nullptr);
};

}  // namespace attnviz::ui
