const queue = 'desk-layer-qaougtnxorxsieohoung';
